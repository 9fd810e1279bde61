"""The driver protocol, the cluster description drivers report, and the driver registry."""

from __future__ import annotations

import dataclasses
import importlib
from importlib.metadata import entry_points
from typing import Any

from ..errors import HipercowError

BUILTIN_DRIVERS = {
    "local": "hipercow_magic.drivers.local:LocalDriver",
    "slurm": "hipercow_magic.drivers.slurm:SlurmDriver",
}
# hipercow's seed says driver="example": the local driver with the seed's example cluster.
DRIVER_ALIASES = {"example": ("local", {"cluster": "example"})}


@dataclasses.dataclass
class NodeInfo:
    name: str
    cores: int
    memory: int | None  # GB
    state: str | None = None


@dataclasses.dataclass
class QueueInfo:
    name: str
    nodes: list[str]
    max_runtime: int | None = None  # minutes
    default: bool = False


@dataclasses.dataclass
class ClusterInfo:
    """What a configured cluster offers; printable."""

    driver: str
    name: str
    nodes: list[NodeInfo]
    queues: list[QueueInfo]
    default_queue: str
    python_version: str | None = None
    extra: dict = dataclasses.field(default_factory=dict)

    @property
    def max_cores(self) -> int:
        return max((n.cores for n in self.nodes), default=0)

    @property
    def max_memory(self) -> int | None:
        mems = [n.memory for n in self.nodes if n.memory is not None]
        return max(mems) if mems else None

    @property
    def node_names(self) -> list[str]:
        return [n.name for n in self.nodes]

    @property
    def queue_names(self) -> list[str]:
        return [q.name for q in self.queues]

    def queue(self, name: str) -> QueueInfo:
        for q in self.queues:
            if q.name.lower() == name.lower():
                return q
        raise KeyError(name)

    def queue_max_runtime(self, name: str) -> int | None:
        try:
            return self.queue(name).max_runtime
        except KeyError:
            return None

    def to_dict(self) -> dict:
        d = dataclasses.asdict(self)
        d.update(max_cores=self.max_cores, max_memory=self.max_memory)
        return d

    def __str__(self) -> str:
        from ..resources import format_minutes

        lines = [f"Cluster '{self.name}' (driver '{self.driver}')",
                 f"  max cores: {self.max_cores}   max memory: {self.max_memory} GB",
                 f"  default queue: {self.default_queue}"]
        if self.python_version:
            lines.append(f"  python on the cluster: {self.python_version}")
        w = max([len(n.name) for n in self.nodes] + [4])
        lines.append(f"  {'node'.ljust(w)}  cores  memory")
        for n in self.nodes:
            mem = "?" if n.memory is None else f"{n.memory} GB"
            state = f"  ({n.state})" if n.state else ""
            lines.append(f"  {n.name.ljust(w)}  {n.cores:>5}  {mem:>6}{state}")
        w = max([len(q.name) for q in self.queues] + [5])
        lines.append(f"  {'queue'.ljust(w)}  nodes")
        for q in self.queues:
            mark = " (default)" if q.name == self.default_queue else ""
            limit = f"  max runtime {format_minutes(q.max_runtime)}" if q.max_runtime else ""
            lines.append(f"  {q.name.ljust(w)}  {', '.join(q.nodes)}{limit}{mark}")
        return "\n".join(lines)

    def _repr_pretty_(self, p, cycle):
        p.text(str(self))


class Driver:
    """Base class for drivers. A driver is constructed with the root and its saved config."""

    name: str = ""

    def __init__(self, root, config: dict):
        self.root = root
        self.config = config

    @classmethod
    def configure(cls, root, **options) -> dict:
        """Check `options` and return the configuration to save (JSON-able)."""
        raise NotImplementedError

    def cluster_info(self) -> ClusterInfo:
        raise NotImplementedError

    def submit(self, ids: list[str], resources) -> None:
        """Submit many tasks that share `resources`; raise HipercowError if nothing was queued."""
        raise NotImplementedError

    def status(self, ids: list[str]) -> list[str]:
        """Scheduler's view of tasks whose markers say submitted/running, in one call."""
        raise NotImplementedError

    def info(self, task_id: str) -> dict:
        return {}

    def cancel(self, ids: list[str]) -> list[bool]:
        raise NotImplementedError

    def log(self, task_id: str, outer: bool = False) -> str | None:
        from .. import store

        if outer:
            return None
        return store.read_text_or(self.root.task_file(task_id, "log"))


def driver_class(name: str):
    """The class registered for driver `name`, or a HipercowError listing valid names."""
    for ep in entry_points(group="hipercow_magic.drivers"):
        if ep.name == name:
            return ep.load()
    target = BUILTIN_DRIVERS.get(name)
    if target is None:
        valid = sorted(set(available_drivers()) | set(DRIVER_ALIASES))
        raise HipercowError(
            f"Invalid driver '{name}'\nValid choices are: {', '.join(repr(v) for v in valid)}"
        )
    module, attr = target.split(":")
    return getattr(importlib.import_module(module), attr)


def available_drivers() -> list[str]:
    names = set(BUILTIN_DRIVERS)
    names.update(ep.name for ep in entry_points(group="hipercow_magic.drivers"))
    return sorted(names)


def resolve_alias(name: str, options: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """Map hipercow's driver names (e.g. 'example') onto ours."""
    if name in DRIVER_ALIASES:
        real, extra = DRIVER_ALIASES[name]
        return real, {**extra, **options}
    return name, options
