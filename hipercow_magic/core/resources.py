"""hipercow_resources(): parsing every resource request, and checking it against a cluster."""

from __future__ import annotations

import dataclasses
import datetime as dt
import math
from typing import Any

from hipercow_magic.core.errors import HipercowError
from hipercow_magic.core.format import format_minutes, hold_text, pretty_dt
from hipercow_magic.core.resource_values import (
    SPECIAL_TIMES,
    character_list,
    duration_to_minutes,
    parse_cores,
    parse_gpus,
    parse_hold_until,
    parse_memory,
)


@dataclasses.dataclass
class Resources:
    """A validated resource request; fields in hipercow's order."""

    cores: float = 1
    exclusive: bool = False
    max_runtime: int | None = None
    hold_until: Any = None
    memory_per_node: int | None = None
    memory_per_process: int | None = None
    requested_nodes: list[str] | None = None
    priority: str | None = None
    queue: str | None = None
    gpus: int = 0
    gpu_type: str | None = None

    def to_dict(self) -> dict:
        """The resources as stored in a task's data.json (JSON-safe: 'Inf', ISO times)."""
        d = dict(vars(self))  # its fields are plain values: no deep copy needed
        if d["requested_nodes"] is not None:
            d["requested_nodes"] = list(d["requested_nodes"])
        if d["cores"] == math.inf:
            d["cores"] = "Inf"
        if isinstance(d["hold_until"], dt.datetime):
            d["hold_until"] = d["hold_until"].isoformat()
        return d

    @classmethod
    def from_dict(cls, d: dict | None) -> Resources:
        """Resources from `to_dict`'s form; the defaults for None or {}."""
        if not d:
            return cls()
        d = dict(d)
        if d.get("cores") == "Inf":
            d["cores"] = math.inf
        hold = d.get("hold_until")
        if isinstance(hold, str) and hold not in SPECIAL_TIMES:
            d["hold_until"] = dt.datetime.fromisoformat(hold)
        return cls(**d)

    def cores_text(self) -> str:
        """The cores as shown: 'Inf' or a whole number."""
        return "Inf" if self.cores == math.inf else str(int(self.cores))

    def summary(
        self, since: float | None = None, now: float | None = None, countdown: bool = True
    ) -> str:
        """One line: the fields that differ from the defaults.

        Args:
            since: when a hold given as a duration started counting (the task's submission,
                else its creation; epoch seconds); without it such a hold is shown as a
                duration after submission.
            now: the moment a hold time is told from (default: this moment).
            countdown: whether a hold time says how long is left ('(in 2h)'); not for a
                task that has ended.
        """
        parts = [f"{self.cores_text()} core{'s' if self.cores != 1 else ''}"]
        if self.exclusive:
            parts.append("exclusive")
        if self.queue:
            parts.append(f"queue {self.queue}")
        if self.memory_per_node:
            parts.append(f"{self.memory_per_node:g}GB/node")
        if self.memory_per_process:
            parts.append(f"{self.memory_per_process:g}GB/process")
        if self.gpus:
            kind = f" ({self.gpu_type})" if self.gpu_type else ""
            parts.append(f"{self.gpus} GPU{'s' if self.gpus != 1 else ''}{kind}")
        if self.max_runtime:
            parts.append(f"max {format_minutes(self.max_runtime)}")
        if self.hold_until is not None:
            parts.append(self.hold_summary(since, now, countdown))
        if self.requested_nodes:
            parts.append("nodes " + ",".join(self.requested_nodes))
        if self.priority:
            parts.append(f"{self.priority} priority")
        return ", ".join(parts)

    def hold_summary(
        self, since: float | None = None, now: float | None = None, countdown: bool = True
    ) -> str:
        """'held until 15:56 (in 2h)'; 'held until tonight' before a named time is resolved;
        'held for 2h after submission' for a duration not yet placed in time (see `summary`).
        """
        hold = self.hold_until
        if isinstance(hold, str):
            return f"held until {hold}"
        if isinstance(hold, dt.datetime):
            until = hold.timestamp()
        elif since is None:
            return f"held for {pretty_dt(hold * 60)} after submission"
        else:
            until = since + hold * 60
        text = hold_text(until, now)
        return text if countdown else text.split(" (")[0]

    def __str__(self) -> str:
        lines = ["hipercow resource control (hipercow_resources)"]
        unset = []
        for f in dataclasses.fields(self):
            v = getattr(self, f.name)
            if v is None:
                unset.append(f"'{f.name}'")
            else:
                if f.name == "cores":
                    v = self.cores_text()
                lines.append(f"  • {f.name}: {v}")
        if unset:
            lines.append("Unset: " + ", ".join(unset))
        return "\n".join(lines)

    def _repr_pretty_(self, p, cycle):
        p.text(str(self))


def memory_request(resources: Resources, cores: float | None = None) -> float | None:
    """The memory (GB) a task asks for in all: memory_per_node, else memory_per_process x its
    cores (`cores`: those it was given, for a task asking for 'Inf'); None if it asks for none.
    """
    if resources.memory_per_node is not None:
        return resources.memory_per_node
    if resources.memory_per_process is None:
        return None
    n = resources.cores if cores is None else cores
    return None if n == math.inf else resources.memory_per_process * max(n, 1)


def hipercow_resources(
    cores=1,
    exclusive=False,
    max_runtime=None,
    hold_until=None,
    memory_per_node=None,
    memory_per_process=None,
    requested_nodes=None,
    priority=None,
    queue=None,
    gpus=0,
    gpu_type=None,
) -> Resources:
    """Describe what a task needs; every value is checked here, against the cluster when a
    task is created.

    Args:
        cores: the number of cores (a positive whole number), or 'Inf' for a whole node.
        exclusive: have the node(s) to itself.
        max_runtime: the longest the task may run: minutes, or a string such as '2h30m',
            '1h30' or '40d' (default: the queue's limit).
        hold_until: don't start before: a future datetime or date, a duration from
            submission (as max_runtime), or 'tonight', 'midnight' or 'weekend'.
        memory_per_node: memory each node must have: gigabytes, or a string such as '8G',
            '1T', '0.5G' or '500M'. The local driver stops a task whose processes use more
            than it asks for in all (this, else memory_per_process x cores), as Slurm does.
        memory_per_process: memory the task expects each process to use (as memory_per_node).
        requested_nodes: only these nodes: a list of names, or one string separated by ','.
        priority: 'low' or 'normal'.
        queue: the queue (Slurm partition) to use (default: the cluster's default queue).
        gpus: the number of GPUs (0: none); the task sees only its own, numbered from 0 in
            CUDA_VISIBLE_DEVICES.
        gpu_type: the kind of GPU (a name the cluster's nodes give, e.g. 'a100'), or None
            for any.

    Returns:
        The Resources, to pass as `resources=` when creating tasks.

    Raises:
        HipercowError: a value is invalid (the message names it and says what is accepted).
    """
    if not isinstance(exclusive, bool):
        raise HipercowError(f"'exclusive' must be a logical (True or False), not {exclusive!r}")
    if priority is not None:
        if not isinstance(priority, str):
            raise HipercowError("'priority' must be a character")
        if priority not in ("low", "normal"):
            raise HipercowError(
                f"Could not understand priority '{priority}'\n"
                "Priority can only be 'low' or 'normal'"
            )
    if queue is not None:
        if isinstance(queue, (list, tuple)):
            raise HipercowError("'queue' must be a scalar")
        if not isinstance(queue, str):
            raise HipercowError("'queue' must be a character")
        queue = queue.strip()
    gpus, gpu_type = parse_gpus(gpus, gpu_type)
    return Resources(
        cores=parse_cores(cores),
        exclusive=exclusive,
        max_runtime=None
        if max_runtime is None
        else duration_to_minutes(max_runtime, "max_runtime"),
        hold_until=parse_hold_until(hold_until),
        memory_per_node=parse_memory(memory_per_node, "memory_per_node"),
        memory_per_process=parse_memory(memory_per_process, "memory_per_process"),
        requested_nodes=character_list(requested_nodes, "nodes"),
        priority=priority,
        queue=queue,
        gpus=gpus,
        gpu_type=gpu_type,
    )


def validate_resources(resources: Resources | None, info) -> Resources:
    """Check a request against a cluster (`ClusterInfo`); fills in the default queue."""
    r = dataclasses.replace(resources or Resources())
    if r.queue is None:
        r.queue = info.default_queue
    queues = {q.lower(): q for q in info.queue_names}
    if r.queue.lower() not in queues:
        raise HipercowError(
            f"The {r.queue} queue is not available on this cluster.\n"
            f"Available: {', '.join(info.queue_names)}."
        )
    r.queue = queues[r.queue.lower()]
    if r.cores != math.inf and r.cores > info.max_cores:
        raise HipercowError(
            f"{r.cores_text()} is too many cores for this cluster.\n"
            f"The largest node has {info.max_cores} cores."
        )
    for value, what in ((r.memory_per_node, "node"), (r.memory_per_process, "process")):
        if value is not None and info.max_memory is not None and value > info.max_memory:
            raise HipercowError(
                f"{value:g}Gb per {what} is too large for this cluster.\n"
                f"The largest node has {info.max_memory}Gb."
            )
    if r.requested_nodes:
        nodes = {n.lower(): n for n in info.node_names}
        missing = [n for n in r.requested_nodes if n.lower() not in nodes]
        if missing:
            quoted = ", ".join(f"'{n}'" for n in missing)
            verb = "node does" if len(missing) == 1 else "nodes do"
            raise HipercowError(
                f"The {quoted} {verb} not exist on this cluster.\n"
                f"Available: {', '.join(info.node_names)}."
            )
        r.requested_nodes = [nodes[n.lower()] for n in r.requested_nodes]
    _check_gpus(r, info)
    limit = info.queue_max_runtime(r.queue)
    if r.max_runtime is not None and limit is not None and r.max_runtime > limit:
        raise HipercowError(
            f"A max_runtime of {format_minutes(r.max_runtime)} is longer than the "
            f"{r.queue} queue allows.\nThe limit there is {format_minutes(limit)}."
        )
    return r


def _check_gpus(r: Resources, info) -> None:
    """Refuse GPUs no node of the cluster (`ClusterInfo`) has: too many, or of a missing type."""
    if not r.gpus:
        return
    fits = [n for n in info.nodes if n.gpus >= r.gpus]
    if not fits:
        raise HipercowError(
            f"{r.gpus} GPU{'s are' if r.gpus != 1 else ' is'} too many for this cluster.\n"
            + (
                f"The most any node has is {info.max_gpus}."
                if info.max_gpus
                else "None of its nodes has GPUs."
            )
        )
    if r.gpu_type is not None:
        types = {t.lower(): t for n in fits for t in n.gpu_types}
        if r.gpu_type.lower() not in types:
            known = ", ".join(info.gpu_types) or "none named"
            raise HipercowError(
                f"No node of this cluster has {r.gpus} GPU{'s' if r.gpus != 1 else ''} of "
                f"type '{r.gpu_type}'.\nGPU types here: {known}."
            )
        r.gpu_type = types[r.gpu_type.lower()]
