"""The driver protocol (the `Driver` base class and its optional hooks), the cluster
description drivers report, and why a task waiting for others can never run (which every
driver, and the engine, use to end such a task the same way).
"""

from __future__ import annotations

import abc
import dataclasses
from typing import Protocol

from hipercow_magic.core import store
from hipercow_magic.core.envvars import EnvVars
from hipercow_magic.core.errors import HipercowError
from hipercow_magic.core.format import format_minutes, short_id
from hipercow_magic.core.task import marker_status, read_marker
from hipercow_magic.core.usage import Usage, read_usage

UPSTREAM = "upstream task "  # how the reason of a task ended by its parent's end begins


@dataclasses.dataclass
class NodeInfo:
    """One node of a cluster: its cores, memory (GB, None if unknown), state, and GPUs (how
    many, and their types where the scheduler names them, e.g. ['a100']).
    """

    name: str
    cores: int
    memory: int | None  # GB
    state: str | None = None
    gpus: int = 0
    gpu_types: list[str] = dataclasses.field(default_factory=list)


@dataclasses.dataclass
class QueueInfo:
    """One queue (partition): its nodes, longest runtime (minutes) and whether it is the
    default.
    """

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
        """The most cores any one node has (what one task can ask for)."""
        return max((n.cores for n in self.nodes), default=0)

    @property
    def max_memory(self) -> int | None:
        """The most memory (GB) any one node has; None if no node says."""
        mems = [n.memory for n in self.nodes if n.memory is not None]
        return max(mems) if mems else None

    @property
    def max_gpus(self) -> int:
        """The most GPUs any one node has (0 when none has any)."""
        return max((n.gpus for n in self.nodes), default=0)

    @property
    def gpu_types(self) -> list[str]:
        """The GPU types some node names, in the order first seen."""
        return list(dict.fromkeys(t for n in self.nodes for t in n.gpu_types))

    @property
    def node_names(self) -> list[str]:
        """The nodes' names."""
        return [n.name for n in self.nodes]

    @property
    def queue_names(self) -> list[str]:
        """The queues' names."""
        return [q.name for q in self.queues]

    def queue(self, name: str) -> QueueInfo:
        """The queue called `name` (any case); KeyError if there is none."""
        for q in self.queues:
            if q.name.lower() == name.lower():
                return q
        raise KeyError(name)

    def queue_max_runtime(self, name: str) -> int | None:
        """The queue's longest runtime in minutes; None if unlimited or unknown."""
        try:
            return self.queue(name).max_runtime
        except KeyError:
            return None

    def to_dict(self) -> dict:
        """The description as JSON-able data (with max_cores and max_memory)."""
        d = dataclasses.asdict(self)
        d.update(max_cores=self.max_cores, max_memory=self.max_memory, max_gpus=self.max_gpus)
        return d

    def __str__(self) -> str:
        lines = [
            f"Cluster '{self.name}' (driver '{self.driver}')",
            f"  max cores: {self.max_cores}   max memory: {self.max_memory} GB",
            f"  default queue: {self.default_queue}",
        ]
        if self.python_version:
            lines.append(f"  python on the cluster: {self.python_version}")
        w = max([len(n.name) for n in self.nodes] + [4])
        gpus = self.max_gpus > 0
        lines.append(f"  {'node'.ljust(w)}  cores  memory" + ("  gpus" if gpus else ""))
        for n in self.nodes:
            mem = "?" if n.memory is None else f"{n.memory} GB"
            state = f"  ({n.state})" if n.state else ""
            kinds = f" ({','.join(n.gpu_types)})" if n.gpu_types else ""
            gpu = f"  {n.gpus:>4}{kinds}" if gpus else ""
            lines.append(f"  {n.name.ljust(w)}  {n.cores:>5}  {mem:>6}{gpu}{state}")
        w = max([len(q.name) for q in self.queues] + [5])
        lines.append(f"  {'queue'.ljust(w)}  nodes")
        for q in self.queues:
            mark = " (default)" if q.name == self.default_queue else ""
            limit = f"  max runtime {format_minutes(q.max_runtime)}" if q.max_runtime else ""
            lines.append(f"  {q.name.ljust(w)}  {', '.join(q.nodes)}{limit}{mark}")
        return "\n".join(lines)

    def _repr_pretty_(self, p, cycle):
        p.text(str(self))


class Subscription(Protocol):
    """What `Driver.subscribe` returns: a descriptor that becomes readable when tasks of the
    root start or end.
    """

    def fileno(self) -> int:
        """The descriptor to wait on (select/poll)."""

    def drain(self) -> set[str] | None:
        """Everything heard since the last drain: the ids of the tasks that started or ended
        (empty when nothing arrived), or None when it can't say which.
        """

    def close(self) -> None:
        """Stop listening."""


class Driver(abc.ABC):
    """A scheduler behind the hipercow API. A driver is constructed with the root and its saved
    configuration; one folder of drivers/ implements one, registered under the entry-point group
    `hipercow_magic.drivers`.

    Subclasses must implement `configure`, `cluster_info`, `submit`, `status` and `cancel`.
    The optional hooks below have working defaults: override them where the scheduler can do
    better (a scheduler's own log, its view of a task, a poll interval that backs off,
    environment variables every task should get, a dry-run batch script, a subscription to
    task starts and ends).
    """

    name: str = ""
    default_envvars: EnvVars | None = None
    """Environment variables every task of this driver gets (below the user's own)."""
    final_usage_after_end: bool = False
    """Whether the driver writes a task's final figures (usage.json) just after the task's
    own end marker, so that a reader arriving at the end waits a moment for them."""

    def __init__(self, root, config: dict):
        self.root = root
        self.config = config

    @classmethod
    @abc.abstractmethod
    def configure(cls, root, **options) -> dict:
        """Check `options` and return the configuration to save (JSON-able).

        Raises:
            HipercowError: an option is unknown or invalid (the message says which and why).
        """

    @abc.abstractmethod
    def cluster_info(self) -> ClusterInfo:
        """The cluster's nodes, cores, memory, queues and limits."""

    @abc.abstractmethod
    def submit(self, ids: list[str], resources, after=()) -> None:
        """Submit many tasks that share `resources`; raise HipercowError if nothing was queued.

        Args:
            ids: the tasks' ids.
            resources: what each of them asks for.
            after: ids of tasks still active (submitted or running) that must all succeed
                before these start; the engine passes it only when there are some. When
                one of them fails or is cancelled, these end 'cancelled' with the reason
                `upstream_reason` gives.
        """

    @abc.abstractmethod
    def status(self, ids: list[str]) -> list[str]:
        """Scheduler's view of tasks whose markers say submitted/running, in one call."""

    @abc.abstractmethod
    def cancel(self, ids: list[str]) -> list[bool]:
        """Cancel queued or running tasks; whether each was cancelled."""

    # ---- optional hooks ---------------------------------------------------------------
    def info(self, task_id: str) -> dict:
        """The scheduler's view of one queued or running task (state, reason, node...)."""
        return {}

    def queue_details(self, ids: list[str]) -> dict[str, dict]:
        """What the scheduler last said of many queued or running tasks, without asking it
        again (for tables of many tasks).

        Returns:
            By task id, for those it knows of, any of: `job_id` (the scheduler's, e.g. Slurm's
            '123' or '123_4' for an element of an array), `reason` (its code for why a
            queued task waits), `reason_words` (the driver's own sentence for it) and
            `estimated_start` (epoch seconds, only where the estimate means something).
            The default knows nothing: {}.
        """
        return {}

    def log(self, task_id: str, outer: bool = False) -> str | None:
        """The task's log; with `outer`, the scheduler's own log of it (None if it has none)."""
        if outer:
            return None
        return store.read_text_or(self.root.task_file(task_id, "log"))

    def usage(self, ids: list[str]) -> dict[str, Usage]:
        """What each task used, by id (those with figures only): the final figures of an
        ended task, a live reading of a running one where the driver can take it. One call
        for all `ids`. The default reads each task's usage.json.
        """
        out = {}
        for task_id in ids:
            found = read_usage(self.root, task_id)
            if found is not None:
                out[task_id] = found
        return out

    def purge(self, ids: list[str]) -> None:
        """Forget ended tasks that are being deleted (what the driver keeps of them
        elsewhere, e.g. a remote root's copies). The default keeps nothing elsewhere.
        """
        return None

    def poll_interval(self) -> float:
        """The longest pause between status checks that this driver recommends (seconds)."""
        return 1.0

    def subscribe(self) -> Subscription | None:
        """A subscription to the root's task starts and ends, for waiters to react at once;
        None (the default) where the scheduler can't tell: waiters then poll `status`.
        """
        return None

    def batch_script(self, ids: list[str], resources=None, after=()) -> str:
        """The script the scheduler would be given for these tasks (a dry run), held until
        the tasks `after` succeed.
        """
        raise HipercowError(f"The '{self.name}' driver has no batch script to show")


def upstream_reason(root, parents, seen: set[str] | None = None) -> str | None:
    """Why a task waiting for `parents` can never run, or None while they all may succeed.

    'upstream task 1a2b3c4d failed' (or 'was cancelled', or 'no longer exists') names the
    first parent that ended so. A parent cancelled for its own upstream reason passes that
    reason on, and a parent still waiting for tasks of its own (the `after` of its
    submitted marker) is followed up its chain, so every task below a failure names the
    task that failed.

    Args:
        root: the tasks' root.
        parents: the ids of the tasks waited for.
        seen: ids already followed (for the recursion).
    """
    seen = set() if seen is None else seen
    for parent in parents:
        if parent in seen:
            continue
        seen.add(parent)
        status = marker_status(root, parent)
        if status is None:
            return f"{UPSTREAM}{short_id(parent)} no longer exists"
        if status == "failure":
            return f"{UPSTREAM}{short_id(parent)} failed"
        if status == "cancelled":
            reason = read_marker(root, parent, "cancelled").get("reason") or ""
            if reason.startswith(UPSTREAM):
                return reason
            return f"{UPSTREAM}{short_id(parent)} was cancelled"
        if status == "submitted":  # a running parent's own parents have succeeded
            grand = read_marker(root, parent, "submitted").get("after") or ()
            reason = upstream_reason(root, grand, seen) if grand else None
            if reason:
                return reason
    return None
