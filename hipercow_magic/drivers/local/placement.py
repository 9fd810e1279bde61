"""Where queued tasks go on the local driver's virtual cluster: the nodes' free cores, memory
and GPUs, the order tasks are considered in, and which node each one gets.

Pure accounting (no files, no processes), so every rule is testable on its own; the
scheduler (scheduler.py) owns the queue and starts what `VirtualCluster.place` chooses.
A queue entry is a dict: the task's resources as `Resources.to_dict()` gives them, with
`id` and `batch` (the submission it came in); its key orders entries first come first served.
"""

from __future__ import annotations

import dataclasses
import itertools
from collections.abc import Iterable

from hipercow_magic.core.resources import Resources, memory_request


class Node:
    """One node of the virtual cluster: its cores and GPUs (as numbered devices), memory and
    tasks.

    Args:
        spec: the node's description, `{"name": ..., "cores": ..., "memory": GB or 0}`, and
            perhaps `"gpus"` (how many) and `"gpu_type"` (their kind).
        cpus: this machine's CPUs (the tasks' slots map onto them for pinning).
    """

    def __init__(self, spec: dict, cpus: list[int]):
        self.name = spec["name"]
        self.cores = spec["cores"]
        self.memory = spec.get("memory") or 0
        self.gpus = spec.get("gpus") or 0
        self.gpu_type = spec.get("gpu_type")
        self.free_slots = list(range(self.cores))
        self.free_memory = self.memory
        self.free_gpus = list(range(self.gpus))
        self.gpu_devices: dict[str, list[int]] = {}  # task id -> the GPUs it was given
        self.tasks: set[str] = set()
        self.whole = False  # taken by a cores=Inf or exclusive task
        self.cpus = cpus

    def has_gpus(self, gpus: int, gpu_type: str | None) -> bool:
        """Whether the node has `gpus` GPUs (of `gpu_type`, when named) at all, busy or not."""
        kind = gpu_type is None or (self.gpu_type or "").lower() == gpu_type.lower()
        return not gpus or (self.gpus >= gpus and kind)

    def fits(
        self, cores: int, memory: float, whole: bool, gpus: int = 0, gpu_type: str | None = None
    ) -> bool:
        """Whether a task needing `cores`, `memory` (GB), `gpus` (of `gpu_type`) and perhaps
        the `whole` node fits now.
        """
        if self.whole or not self.has_gpus(gpus, gpu_type):
            return False
        if whole:
            return not self.tasks and (not self.memory or memory <= self.memory)
        return (
            len(self.free_slots) >= cores
            and (not self.memory or memory <= self.free_memory)
            and len(self.free_gpus) >= gpus
        )

    def take(
        self,
        task_id: str,
        cores: int,
        memory: float,
        whole: bool,
        gpus: int = 0,
        devices: list[int] | None = None,
    ) -> list[int]:
        """Give a task its cores (all of them when `whole`), memory and `gpus` GPUs (the
        `devices` named, for a task already running); returns its slots. The GPUs it was
        given are in `gpu_devices[task_id]`.
        """
        slots = list(self.free_slots) if whole else self.free_slots[:cores]
        self.free_slots = [s for s in self.free_slots if s not in slots]
        self.free_memory -= memory
        given = list(devices) if devices is not None else self.free_gpus[:gpus]
        self.free_gpus = [g for g in self.free_gpus if g not in given]
        self.gpu_devices[task_id] = given
        self.tasks.add(task_id)
        self.whole = whole
        return slots

    def visible_gpus(self, task_id: str) -> list[int] | None:
        """The GPUs a task placed here may see: those it was given ([] hides the node's GPUs
        from a task that asked for none); None on a node without GPUs (left as they are).
        """
        return list(self.gpu_devices.get(task_id, [])) if self.gpus else None

    def release(self, task_id: str, slots: list[int], memory: float) -> None:
        """Give back what `take` gave a task."""
        self.tasks.discard(task_id)
        self.free_slots = sorted(set(self.free_slots) | set(slots))
        self.free_memory += memory
        self.free_gpus = sorted(set(self.free_gpus) | set(self.gpu_devices.pop(task_id, [])))
        if not self.tasks:
            self.whole = False

    def physical_cpus(self, slots: list[int]) -> set[int] | None:
        """CPUs to pin to, when the machine has as many as the task's slots."""
        if not self.cpus or len(slots) > len(self.cpus):
            return None
        chosen = {self.cpus[s % len(self.cpus)] for s in slots}
        return chosen if len(chosen) == len(slots) else None


@dataclasses.dataclass
class Placement:
    """What one pass of `VirtualCluster.place` decided.

    Attributes:
        launches: (queue key, entry with its node, slots, memory, whole and gpu_devices
            set, node) for each task to start now; the node's resources are already taken.
        reasons: why each task left waiting waits ('Dependency', 'BeginTime', 'Resources'
            or 'Priority').
        reserved: the nodes kept free for a task wanting a whole node.
    """

    launches: list[tuple[tuple, dict, Node]] = dataclasses.field(default_factory=list)
    reasons: dict[str, str] = dataclasses.field(default_factory=dict)
    reserved: set[str] = dataclasses.field(default_factory=set)


class VirtualCluster:
    """The nodes and queues of a local driver's cluster, and the placement policy.

    Args:
        spec: the cluster as the local driver's configuration holds it (`nodes`, `queues`).
        cpus: this machine's CPUs, for pinning tasks to as many CPUs as they have cores.
    """

    def __init__(self, spec: dict, cpus: list[int]):
        self.nodes = {n["name"]: Node(n, cpus) for n in spec["nodes"]}
        self.queues = {q["name"]: q["nodes"] for q in spec["queues"]}
        self.default_queue = next(q["name"] for q in spec["queues"] if q.get("default"))

    def place(self, queued: dict[tuple, dict], now: float) -> Placement:
        """Choose the queued tasks to start now, taking their nodes' cores, memory and GPUs.

        Tasks are considered in `order`. A task still waiting for other tasks (its `after`)
        waits ('Dependency'); one held until later waits ('BeginTime'); one
        that fits no allowed node waits ('Resources', or 'Priority' for a low-priority task
        passed over for a normal one). A task wanting a whole node reserves the first node
        it may use, so smaller tasks behind it do not keep that node busy for ever.

        Args:
            queued: the waiting entries by queue key.
            now: the time (epoch seconds) to compare `hold_until` with.
        """
        result = Placement()
        reserved = result.reserved
        for key in order(queued):
            if not any(n.free_slots for n in self.nodes.values()):
                break  # the cluster is full
            entry = queued[key]
            task_id = entry["id"]
            if entry.get("after"):
                result.reasons[task_id] = "Dependency"
                continue
            hold = entry.get("hold_until")
            if hold and hold > now:
                result.reasons[task_id] = "BeginTime"
                continue
            cores, needed, whole = demand(entry)
            gpus, gpu_type = gpu_demand(entry)
            allowed = [self.nodes[n] for n in self.candidates(entry) if n not in reserved]
            node = next((n for n in allowed if n.fits(cores, needed, whole, gpus, gpu_type)), None)
            if node is None:
                able = [n for n in allowed if n.has_gpus(gpus, gpu_type)]
                if whole and able:
                    reserved.add(able[0].name)
                low = entry.get("priority") == "low"
                result.reasons[task_id] = "Priority" if low and result.launches else "Resources"
                continue
            slots = node.take(task_id, cores, needed, whole, gpus)
            placed = {**entry, "node": node.name, "slots": slots, "memory": needed, "whole": whole}
            placed["gpu_devices"] = node.visible_gpus(task_id)
            result.launches.append((key, placed, node))
        return result

    def candidates(self, entry: dict) -> list[str]:
        """The nodes a task may run on: its queue's (the default queue's), narrowed to the
        nodes it requested.
        """
        allowed = self.queues.get(entry.get("queue") or self.default_queue, list(self.nodes))
        wanted = entry.get("requested_nodes")
        return [n for n in allowed if not wanted or n in wanted]


class Queue(dict):
    """The waiting entries by queue key, keeping their `order` between placement passes: it
    is sorted again only after an entry is added (taking one out keeps the others' order),
    so a pass over a long queue does not sort it each time a task ends.
    """

    def __init__(self):
        super().__init__()
        self._order: list[tuple] = []
        self._head = 0  # keys before it have left the queue
        self._stale = False
        self._held: set[tuple] = set()  # keys of entries with a hold_until

    def __setitem__(self, key: tuple, entry: dict) -> None:
        super().__setitem__(key, entry)
        self._stale = True
        if entry.get("hold_until"):
            self._held.add(key)

    def holds(self) -> list[float]:
        """The hold_until times of the waiting entries that have one."""
        self._held &= self.keys()
        return [self[k]["hold_until"] for k in self._held]

    def ordered(self):
        """The keys in `order` (an iterator)."""
        if self._stale:
            self._order, self._head, self._stale = _sort(self), 0, False
        while self._head < len(self._order) and self._order[self._head] not in self:
            self._head += 1
        return (k for k in itertools.islice(self._order, self._head, None) if k in self)


def order(queued: dict[tuple, dict]) -> Iterable[tuple]:
    """Queue keys in the order tasks are considered: normal priority before low, then first
    come first served (keys sort by submission).
    """
    return queued.ordered() if isinstance(queued, Queue) else _sort(queued)


def _sort(queued: dict[tuple, dict]) -> list[tuple]:
    return sorted(queued, key=lambda k: (queued[k].get("priority") == "low", k))


def demand(entry: dict) -> tuple[int, float, bool]:
    """What a queue entry takes from its node: cores (0 for a whole node), memory (GB) and
    whether it wants the whole node (cores=Inf, or exclusive).
    """
    whole = entry["cores"] == "Inf" or bool(entry.get("exclusive"))
    cores = 0 if entry["cores"] == "Inf" else int(entry["cores"])
    return cores, memory(entry, cores), whole


def gpu_demand(entry: dict) -> tuple[int, str | None]:
    """The GPUs a queue entry asks for: how many (0 for none), and of what type (None: any)."""
    return int(entry.get("gpus") or 0), entry.get("gpu_type")


def memory(entry: dict, cores: int) -> float:
    """The memory (GB) a task takes on its node: memory_per_node, else memory_per_process
    times its cores (one process for a whole-node task), else 0 (no limit asked for).
    """
    asked = Resources(
        memory_per_node=entry.get("memory_per_node"),
        memory_per_process=entry.get("memory_per_process"),
    )
    return memory_request(asked, cores) or 0
