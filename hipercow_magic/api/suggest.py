"""hipercow_resources_suggest(): a resource request made from what finished tasks used,
with the reasons in words (peak memory with a margin, cores from their average use).
"""

from __future__ import annotations

import dataclasses
import math
import re

from hipercow_magic.api.ids import resolve_task_id
from hipercow_magic.api.usage import cores_text
from hipercow_magic.core.errors import HipercowError
from hipercow_magic.core.format import short_id
from hipercow_magic.core.resources import Resources, hipercow_resources
from hipercow_magic.core.root import TASK_ID_RE, find_root
from hipercow_magic.core.task import read_marker, task_exists
from hipercow_magic.drivers.registry import load_driver
from hipercow_magic.engine.bundles import bundle_exists, bundle_load_ids
from hipercow_magic.engine.retry import follow_ids, retry_chain
from hipercow_magic.engine.usage import GB, Efficiency, asked_resources, efficiencies

MARGIN = 1.25  # peak memory is asked for with this much room
PERCENTILE = 95  # of the tasks' peaks and average cores, so a few outliers don't set it
IDLE_CORE = 0.1  # average cores that don't call for one more core (a process's own upkeep)


@dataclasses.dataclass
class Suggestion:
    """A resource request made from what tasks used; `print()` it for the reasons.

    Attributes:
        subject: what it was made for, in words ("task 1a2b3c4d", "bundle 'sweep'").
        resources: the request to pass as `resources=` when creating tasks (the one asked
            for before, unchanged, when there was too little to go on).
        reasons: why, one line per resource, in words.
        asked: what the tasks asked for before (their first task's request, one line).
        based_on: how many finished tasks with figures it was made from (0: too few).
    """

    subject: str
    resources: Resources
    reasons: list[str]
    asked: str
    based_on: int

    @property
    def call(self) -> str:
        """The same request as Python: "hipercow_resources(cores=2, memory_per_node='1.2G')"."""
        r = self.resources
        args = [f"cores={cores_text(r.cores) if r.cores != math.inf else repr('Inf')}"]
        if r.memory_per_node is not None:
            args.append(f"memory_per_node='{r.memory_per_node:g}G'")
        if r.memory_per_process is not None:
            args.append(f"memory_per_process='{r.memory_per_process:g}G'")
        return f"hipercow_resources({', '.join(args)})"

    @property
    def flags(self) -> str:
        """The same request as options of `%%hipercow` and `hipercow create`."""
        r = self.resources
        flags = f"--cores {r.cores_text()}"
        if r.memory_per_node is not None:
            flags += f" --memory-per-node {r.memory_per_node:g}G"
        if r.memory_per_process is not None:
            flags += f" --memory-per-process {r.memory_per_process:g}G"
        return flags

    def __str__(self) -> str:
        if not self.based_on:
            return f"No suggestion for {self.subject}: " + "; ".join(self.reasons)
        lines = [f"Suggested resources for {self.subject}: {self.resources.summary()}"]
        lines += [f"  • {reason}" for reason in self.reasons]
        lines.append(f"  • it asked for {self.asked}")
        lines.append(f"  as Python: {self.call}")
        lines.append(f"  as options: {self.flags}")
        return "\n".join(lines)

    def _repr_pretty_(self, p, cycle):
        p.text(str(self))


def percentile(values: list[float], pct: float = PERCENTILE) -> float:
    """The nearest-rank percentile of `values` (the largest of up to 19 values for p95)."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(pct / 100 * len(ordered)) - 1)]


def gb_text(gb: float) -> str:
    """Gigabytes in a reason: '0.9', '1.1', '0.031', '12'."""
    return f"{gb:.0f}" if gb >= 10 else f"{gb:.2g}"


def memory_to_ask(peak_bytes: float, margin: float = MARGIN) -> float:
    """The GB to ask for a peak: with `margin`, rounded up to 0.1 GB below 10 GB and to a
    whole GB above (at least 0.1 GB).
    """
    gb = peak_bytes * margin / GB
    if gb >= 10:
        return float(math.ceil(gb - 1e-9))
    return max(0.1, round(math.ceil(gb * 10 - 1e-9) / 10, 1))


def cores_to_ask(average: float) -> int:
    """Whole cores for an average use: one more only past IDLE_CORE of a core (at least 1)."""
    return max(1, math.ceil(average - IDLE_CORE))


def _over(n: int) -> str:
    return f" (p{PERCENTILE} over {n} tasks)" if n > 1 else ""


def suggest_from(found: list[Efficiency], asked: Resources, limits=None) -> tuple:
    """The request and its reasons from tasks' figures (those ended with final figures;
    the successes only, where any succeeded), within `limits` (a `ClusterInfo`, or None).

    Returns:
        (resources, reasons, how many tasks it was made from); (asked, [why not], 0) when
        no task has ended with figures.
    """
    ended = [e for e in found if e.usage is not None and not e.usage.running]
    if not ended:
        return asked, [_too_little(found)], 0
    succeeded = [e for e in ended if e.status == "success"]
    used = succeeded or ended
    n = len(used)
    averages = [e.usage.cores_average for e in used]
    average = percentile(averages)
    peak = max(e.usage.cores_peak for e in used)
    cores = cores_to_ask(average)
    reasons = [
        f"cores: used {average:.1f} on average{_over(n)}, peak {peak:.1f} -> "
        f"{cores} core{'s' if cores != 1 else ''}"
    ]
    if limits is not None and limits.max_cores and cores > limits.max_cores:
        cores = limits.max_cores
        reasons[-1] += f", capped at {cores} (the most any node has)"
    memory = asked.memory_per_node
    peaks = [e.usage.memory_peak for e in used if e.usage.memory_peak]
    if peaks:
        top = percentile(peaks)
        memory = memory_to_ask(top)
        reasons.append(
            f"peak memory {gb_text(top / GB)} GB{_over(len(peaks))} x {MARGIN:g} = {memory:g} GB"
        )
        if limits is not None and limits.max_memory and memory > limits.max_memory:
            memory = limits.max_memory
            reasons[-1] += f", capped at {memory} GB (the most any node has)"
    else:
        reasons.append("memory: no peak was measured, so the request is kept")
    if not succeeded:
        reasons.append(f"from {n} task{'s' if n != 1 else ''} that did not succeed")
    resources = dataclasses.replace(
        asked,
        cores=cores,
        memory_per_node=memory,
        memory_per_process=None if peaks else asked.memory_per_process,
        hold_until=None,
    )
    return resources, reasons, n


def _too_little(found: list[Efficiency]) -> str:
    """Why there is nothing to go on, in words."""
    if not found:
        return "there are no tasks to go on"
    counts: dict[str, int] = {}
    for e in found:
        state = "running" if e.usage is not None else (e.status or "unknown")
        counts[state] = counts.get(state, 0) + 1
    states = ", ".join(f"{k} {s}" for s, k in counts.items())
    return (
        "too little to go on: no task has finished with figures of what it used "
        f"({states}); run some first, then ask again"
    )


def _subject(root, what) -> tuple[str, list[str]]:
    """(what to call it, the task ids to go on) for a task, a bundle, a name or an id."""
    if hasattr(what, "ids") and hasattr(what, "name"):
        return f"bundle '{what.name}'", follow_ids(root, list(what.ids))
    text = getattr(what, "id", what)
    if not isinstance(text, str):
        raise HipercowError(
            f"Can't suggest resources for {text!r}: give a task, a bundle, or their id or name"
        )
    if TASK_ID_RE.fullmatch(text) and task_exists(root, text):
        chain = retry_chain(root, text) or [text]
        return f"task {short_id(text)}", list(reversed(chain))
    if _is_bundle(root, text):
        return f"bundle '{text}'", follow_ids(root, bundle_load_ids(root, text))
    if re.fullmatch(r"[0-9a-f]{4,31}", text):
        return _subject(root, resolve_task_id(text, root=root))
    raise HipercowError(
        f"No task or bundle '{text}' to suggest resources for: give a task id (or its "
        "first 4 or more characters) or a bundle name"
    )


def _is_bundle(root, name: str) -> bool:
    try:
        return bundle_exists(root, name)
    except HipercowError:  # not a name a bundle can have
        return False


def _limits(root, task_id: str):
    """The cluster the task was submitted to (None when that can't be told)."""
    name = read_marker(root, task_id, "submitted").get("driver")
    try:
        return load_driver(root, name).cluster_info() if name else None
    except (HipercowError, OSError):
        return None


def hipercow_resources_suggest(task_or_bundle, root=None) -> Suggestion:
    """Propose a resource request from what finished tasks used, saying why.

    Memory: the tasks' peak (the p95 over a bundle's tasks) x 1.25, rounded up; cores: their
    average use (p95), rounded up past a tenth of a core; both within the largest node.
    Successful tasks are used where any succeeded; a task's retry chain counts as one
    task (its newest attempt with figures). The rest of the request (queue, runtime, GPUs)
    is kept.

    Args:
        task_or_bundle: a Task or Bundle handle, a task id (or its first 4 or more
            characters), or a bundle's name.
        root: the hipercow root (default: found from the working directory).

    Returns:
        A `Suggestion`: `.resources` to pass as `resources=` to task_create_* (unchanged
        when there is too little to go on, which `print()` says), `.reasons` in words.

    Raises:
        HipercowError: no such task or bundle.
    """
    root = find_root(getattr(task_or_bundle, "root", None) or root)
    subject, ids = _subject(root, task_or_bundle)
    found = efficiencies(root, ids)
    if subject.startswith("task "):  # its newest attempt with final figures
        ended = [e for e in found if e.usage is not None and not e.usage.running]
        found = ended[:1] or found[:1]
    asked = asked_resources(root, ids[0]) if ids else Resources()
    limits = _limits(root, ids[0]) if ids else None
    resources, reasons, n = suggest_from(found, asked, limits)
    if n:
        resources = _checked(resources)
    return Suggestion(subject, resources, reasons, asked.summary(), n)


def _checked(resources: Resources) -> Resources:
    """The request passed through hipercow_resources, as one a user would make."""
    fields = dataclasses.asdict(resources)
    if resources.cores == math.inf:
        fields["cores"] = "Inf"
    return hipercow_resources(**fields)
