"""What a task really used (CPU time, cores, peak memory of its whole process tree, wall
time), kept in its folder as usage.json: a live reading while it runs, its final figures
once it has ended.
"""

from __future__ import annotations

import dataclasses

from hipercow_magic.core import store

USAGE_FILE = "usage.json"


@dataclasses.dataclass
class Usage:
    """One task's use of its resources.

    Attributes:
        wall: seconds it has run (so far, while `running`).
        cpu: CPU seconds used by its whole process tree (user + system, children included).
        cores_peak: the most cores it had busy over one sampling interval.
        memory_peak: the highest memory of its whole process tree, in bytes (resident memory,
            pages its processes share counted once).
        cores_now: while running, the cores busy over the last interval (None once ended).
        memory_now: while running, the tree's resident memory now, in bytes (None once ended).
        running: True for a live reading, False for the final figures.
        source: where the figures come from, in words ('sampled every 2 s by the local
            scheduler', 'Slurm accounting (sacct)', 'Slurm sstat').
        samples: how many readings the figures are made of (0 where the source says
            nothing of it).
        updated: when the figures were taken (epoch seconds).
    """

    wall: float
    cpu: float
    cores_peak: float
    memory_peak: int
    cores_now: float | None = None
    memory_now: int | None = None
    running: bool = False
    source: str = ""
    samples: int = 0
    updated: float = 0.0

    @property
    def cores_average(self) -> float:
        """The cores it kept busy on average: CPU seconds over wall seconds."""
        return self.cpu / self.wall if self.wall > 0 else 0.0

    def to_dict(self) -> dict:
        """The figures as stored in usage.json."""
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> Usage:
        """Figures from `to_dict`'s form (unknown keys, from a newer version, are ignored)."""
        names = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in d.items() if k in names})


def write_usage(root, task_id: str, usage: Usage) -> None:
    """Store a task's figures (atomically: a reader sees the old figures or the new)."""
    store.write_json(root.task_file(task_id, USAGE_FILE), usage.to_dict())


def read_usage(root, task_id: str) -> Usage | None:
    """A task's stored figures; None when nothing was measured (or the file is unreadable)."""
    try:
        d = store.read_json(root.task_file(task_id, USAGE_FILE))
        return Usage.from_dict(d) if isinstance(d, dict) else None
    except (FileNotFoundError, ValueError, TypeError):
        return None
