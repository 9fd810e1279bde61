"""What tasks used against what they asked for: their figures, many tasks in one go (one
driver call per driver for the tasks still queued or running, the stored figures for the
others), and each task's request (cores and memory) to set them against.
"""

from __future__ import annotations

import dataclasses
import math
import time

from hipercow_magic.core.errors import HipercowError
from hipercow_magic.core.resources import Resources, memory_request
from hipercow_magic.core.status import ACTIVE, TERMINAL
from hipercow_magic.core.task import marker_status, read_data, read_marker
from hipercow_magic.core.usage import Usage, read_usage
from hipercow_magic.drivers.registry import driver_class, load_driver

GB = 1_000_000_000  # bytes in a gigabyte, as requests count them
FINAL_GRACE = 2.0  # seconds after a task's end within which its final figures are awaited


@dataclasses.dataclass
class Request:
    """What a task asked for: cores (those it was given for 'Inf', where known; else None)
    and memory in GB (None when it asked for none).
    """

    cores: float | None
    memory: float | None


@dataclasses.dataclass
class Efficiency:
    """One task's figures set against its request.

    Attributes:
        task_id: the task.
        status: its status when asked (None if unknown).
        usage: what it used (None when nothing was measured).
        request: what it asked for.
    """

    task_id: str
    status: str | None
    usage: Usage | None
    request: Request

    @property
    def cores_share(self) -> float | None:
        """Its average cores over the cores it asked for (0.3: 30%); None when unknown."""
        if self.usage is None or not self.request.cores:
            return None
        return self.usage.cores_average / self.request.cores

    @property
    def memory_share(self) -> float | None:
        """Its peak memory over the memory it asked for; None when unknown or not asked."""
        if self.usage is None or not self.request.memory:
            return None
        return self.usage.memory_peak / (self.request.memory * GB)


def task_usages(root, ids: list[str], statuses: list[str | None] | None = None) -> dict:
    """What each task used, by id (those with figures only): their stored figures, and for
    tasks still queued or running, or ended with none stored yet, one `Driver.usage` call
    per driver (a live reading where the driver takes one; Slurm's accounting for an ended
    job). A driver that can't be asked gives its tasks' stored figures instead.

    Args:
        root: the root.
        ids: the tasks' ids.
        statuses: their statuses, if already known (else read from their markers).

    Returns:
        A dict from task id to its `Usage`.
    """
    if statuses is None:
        statuses = [marker_status(root, i) for i in ids]
    by_driver: dict[str, list[str]] = {}
    out: dict[str, Usage] = {}
    for task_id, status in zip(ids, statuses):
        found = None if status in ACTIVE else read_usage(root, task_id)
        if found is not None:
            out[task_id] = found
            continue
        name = read_marker(root, task_id, "submitted").get("driver") if status else None
        if name:  # running, or ended with figures its driver may still have (accounting)
            by_driver.setdefault(name, []).append(task_id)
    for name, group in by_driver.items():
        try:
            out.update(load_driver(root, name).usage(group))
        except (HipercowError, OSError):  # figures are no reason to fail: the stored ones
            out.update({i: u for i in group if (u := read_usage(root, i)) is not None})
    _await_final(root, out, dict(zip(ids, statuses)))
    return out


def _await_final(root, out: dict[str, Usage], statuses: dict[str, str | None]) -> None:
    """Give tasks that ended a moment ago the final figures their scheduler is writing,
    where their driver writes them just after the task's own end marker (see
    `Driver.final_usage_after_end`): a task that ran and ended less than FINAL_GRACE
    seconds ago with only a live reading, or none, is read again until it has its final
    figures, or until then. A task that never started has none to wait for.
    """
    now = time.time()
    due = {}
    for task_id, status in statuses.items():
        usage = out.get(task_id)
        if status not in TERMINAL or (usage is not None and not usage.running):
            continue
        ended = read_marker(root, task_id, status).get("time") or 0
        if now - ended >= FINAL_GRACE or not _writes_figures_at_end(root, task_id):
            continue
        due[task_id] = ended + FINAL_GRACE
    while due:
        time.sleep(0.01)
        for task_id, until in list(due.items()):
            found = read_usage(root, task_id)
            if found is not None and not found.running:
                out[task_id] = found
            if (found is not None and not found.running) or time.time() >= until:
                del due[task_id]


def _writes_figures_at_end(root, task_id: str) -> bool:
    """Whether task `task_id` started, on a driver that writes final figures at its end."""
    if not read_marker(root, task_id, "running"):
        return False
    name = read_marker(root, task_id, "submitted").get("driver")
    try:
        return bool(name) and driver_class(name).final_usage_after_end
    except HipercowError:  # a driver no longer installed
        return False


def asked_resources(root, task_id: str) -> Resources:
    """The resources a task was submitted with, else those it was created with (the
    defaults when its record can't be read).
    """
    submitted = read_marker(root, task_id, "submitted").get("resources")
    if submitted is None:
        try:
            submitted = read_data(root, task_id).get("resources")
        except (HipercowError, OSError):
            submitted = None
    return Resources.from_dict(submitted)


def task_request(root, task_id: str, node_cores: dict[str, int] | None = None) -> Request:
    """What a task asked for (see `asked_resources`); for 'Inf' cores, the cores it was
    given (its start claim's slots), else those of the node it ran on (`node_cores`: cores
    by node name), else None.
    """
    resources = asked_resources(root, task_id)
    cores: float | None = resources.cores
    if cores == math.inf:
        claim = read_marker(root, task_id, "running")
        if claim.get("slots"):
            cores = len(claim["slots"])
        else:
            node = claim.get("node") or claim.get("host")
            cores = (node_cores or {}).get(node) if node else None
    return Request(cores, memory_request(resources, cores))


def node_cores(root, ids: list[str]) -> dict[str, int]:
    """Cores by node name, from the clusters of the drivers these tasks were submitted to
    (asked only when one of them asked for 'Inf' cores; {} when none did or none can say).
    """
    names = set()
    for task_id in ids:
        marker = read_marker(root, task_id, "submitted")
        if (marker.get("resources") or {}).get("cores") == "Inf" and marker.get("driver"):
            names.add(marker["driver"])
    out: dict[str, int] = {}
    for name in names:
        try:
            out.update({n.name: n.cores for n in load_driver(root, name).cluster_info().nodes})
        except (HipercowError, OSError):
            continue
    return out


def efficiencies(root, ids: list[str], statuses: list[str | None] | None = None) -> list:
    """Each task's figures against its request (an `Efficiency` each, in the order of
    `ids`): one driver call per driver for the tasks still active, see `task_usages`.
    """
    if statuses is None:
        statuses = [marker_status(root, i) for i in ids]
    usages = task_usages(root, ids, statuses)
    cores = node_cores(root, ids)
    return [
        Efficiency(task_id, status, usages.get(task_id), task_request(root, task_id, cores))
        for task_id, status in zip(ids, statuses)
    ]


@dataclasses.dataclass
class Totals:
    """What a group of ended tasks used in all, against what they asked for.

    Attributes:
        tasks: how many ended tasks had final figures.
        cores_share: their CPU seconds over (wall seconds x cores asked), over the tasks
            whose cores are known; None if none.
        memory_share: their peak memory summed over the memory they asked for, over the
            tasks that asked for memory; None if none did.
        memory_peak: the highest peak memory among them (bytes).
    """

    tasks: int
    cores_share: float | None
    memory_share: float | None
    memory_peak: int


def totals(found: list[Efficiency]) -> Totals | None:
    """The share of their requests that ended tasks used, in all (None when no task has
    final figures).
    """
    ended = [e for e in found if e.usage is not None and not e.usage.running]
    if not ended:
        return None
    timed = [e for e in ended if e.request.cores and e.usage.wall > 0]
    asked_cpu = sum(e.usage.wall * e.request.cores for e in timed)
    with_memory = [e for e in ended if e.request.memory]
    asked_memory = sum(e.request.memory * GB for e in with_memory)
    return Totals(
        tasks=len(ended),
        cores_share=sum(e.usage.cpu for e in timed) / asked_cpu if asked_cpu else None,
        memory_share=(
            sum(e.usage.memory_peak for e in with_memory) / asked_memory if asked_memory else None
        ),
        memory_peak=max(e.usage.memory_peak for e in ended),
    )
