"""Automatic retries: a failed task whose retry policy covers its failure is retried, with
its memory or time request grown within the cluster's limits, by whichever status lookup
first sees it failed (one retry however many look at once: retry.retry_tasks claims it).
A failed task that is not retried keeps why, in its folder, for displays. Tasks cancelled
because they waited for a task retried so run again, waiting for its retry.
"""

from __future__ import annotations

import dataclasses
import math
import os

from hipercow_magic.core import store
from hipercow_magic.core.errors import HipercowError, warn
from hipercow_magic.core.failures import (
    ERROR,
    NODE_FAILURE,
    OUT_OF_MEMORY,
    TIMEOUT,
    failure_class,
)
from hipercow_magic.core.format import format_bytes, format_minutes, short_id
from hipercow_magic.core.resources import Resources
from hipercow_magic.core.retry_policy import RetryPolicy, policy_of
from hipercow_magic.core.task import marker_status, read_data, read_marker
from hipercow_magic.core.usage import read_usage
from hipercow_magic.drivers.base import UPSTREAM
from hipercow_magic.drivers.registry import load_driver
from hipercow_magic.engine.dependencies import depends_on
from hipercow_magic.engine.retry import retry_chain, retry_of, retry_tasks

NOT_RETRIED = "not-retried.json"  # in a failed task's folder: why it was not retried

AFTER = {
    OUT_OF_MEMORY: "running out of memory",
    TIMEOUT: "running out of time",
    NODE_FAILURE: "a node failure",
    ERROR: "an error",
}

_settled: set[tuple[str, str]] = set()  # (root, task) failures already dealt with here


@dataclasses.dataclass
class Growth:
    """What a retry asks for after a failure, or why there is no retry."""

    resources: Resources | None  # None: not retried
    why: str | None = None  # why not retried
    peak: float | None = None  # the measured peak (GB) grown, for a task that asked for none


def _gb(value: float) -> int | float:
    """Gigabytes as requests keep them: to the megabyte, whole ones as an int."""
    value = round(value, 3)
    return int(value) if float(value).is_integer() else value


def gb_words(value: float) -> str:
    """Gigabytes in words: '2 GB', '400 MB'."""
    return format_bytes(round(value * 1e9))


def grow(
    resources: Resources,
    failed: str,
    policy: RetryPolicy,
    info,
    peak_gb: float | None = None,
) -> Growth:
    """The resources of a retry after a failure of class `failed`, within the cluster's
    limits (`info`: its ClusterInfo); `peak_gb`: the task's measured peak memory, grown
    when it asked for no memory.

    Out of memory: its memory (memory_per_node, else memory_per_process, else its peak,
    as memory_per_node) x memory_factor, at most the largest node's. Out of time: its
    max_runtime x runtime_factor (whole minutes, rounded up), at most its queue's limit.
    Otherwise: the same again.
    """
    if failed == OUT_OF_MEMORY:
        return _grow_memory(resources, policy.memory_factor, info.max_memory, peak_gb)
    if failed == TIMEOUT:
        queue = resources.queue or info.default_queue
        return _grow_runtime(resources, policy.runtime_factor, info.queue_max_runtime(queue), queue)
    return Growth(dataclasses.replace(resources))


def _grow_memory(
    r: Resources, factor: float, max_memory: float | None, peak_gb: float | None
) -> Growth:
    n = 1
    if r.memory_per_node is not None:
        field, now, limit = "memory_per_node", r.memory_per_node, max_memory
    elif r.memory_per_process is not None:
        n = 1 if r.cores == math.inf else max(int(r.cores), 1)
        field, now = "memory_per_process", r.memory_per_process
        limit = None if max_memory is None else max_memory / n
    elif peak_gb:
        field, now, limit = "memory_per_node", peak_gb, max_memory
    else:
        return Growth(
            None,
            "it asked for no memory and its peak was not measured, so there is nothing to "
            "grow; ask for some (memory_per_node)",
        )
    if limit is not None and now >= limit:
        held = f" for its {n} cores" if n > 1 else ""
        return Growth(None, f"{gb_words(limit * n)}{held} is the most any node has")
    grown = now * factor if limit is None else min(now * factor, limit)
    return Growth(
        dataclasses.replace(r, **{field: _gb(grown)}),
        peak=peak_gb if field == "memory_per_node" and r.memory_per_node is None else None,
    )


def _grow_runtime(r: Resources, factor: float, limit: int | None, queue: str) -> Growth:
    if r.max_runtime is None:
        if limit is None:
            return Growth(None, "it had no max_runtime of its own to grow")
        return Growth(
            None,
            f"it ran for the whole {format_minutes(limit)} the {queue} queue allows",
        )
    if limit is not None and r.max_runtime >= limit:
        return Growth(None, f"{format_minutes(limit)} is the most the {queue} queue allows")
    grown = math.ceil(r.max_runtime * factor)
    return Growth(dataclasses.replace(r, max_runtime=grown if limit is None else min(grown, limit)))


def retry_failed(root, ids: list[str], statuses: list[str | None]) -> None:
    """Retry the failed tasks among `ids` whose policies cover their failures (each once,
    whoever asks), and record why for those with a policy that are not retried; run again
    the cancelled ones whose cancelling failure above was retried automatically.

    Cheap for tasks already dealt with by this process (a set lookup each); a task's
    files are read the first time it is seen failed or cancelled.
    """
    decided: dict[str, dict[str, dict]] = {}  # driver -> {task: its retry's fields}
    for task_id, status in zip(ids, statuses):
        if status not in ("failure", "cancelled") or (root.path, task_id) in _settled:
            continue
        try:
            if status == "failure":
                decisions = [_decide(root, task_id)]
            else:
                decisions = _run_again_below(root, task_id)
        except HipercowError:
            continue  # its driver can't be asked now: looked at again next time
        for name, chosen, fields in filter(None, decisions):
            decided.setdefault(name, {}).setdefault(chosen, fields)
    for name, chosen in decided.items():
        _make(root, name, list(chosen.items()))


def _decide(root, task_id: str) -> tuple[str, str, dict] | None:
    """(driver, the task, its retry's fields) for a task to retry now; None otherwise
    (then settled, unless its failure is not yet wholly recorded).
    """
    data = read_data(root, task_id)
    policy = policy_of(data)
    if (
        policy is None
        or retry_of(root, task_id) is not None
        or os.path.exists(root.task_file(task_id, NOT_RETRIED))
    ):
        _settled.add((root.path, task_id))
        return None
    failed = failure_class(root, task_id)
    if failed is None:
        return None  # the failure is still being recorded
    chain = retry_chain(root, task_id) or [task_id]
    attempt = chain.index(task_id) + 1 if task_id in chain else 1
    name = read_marker(root, task_id, "submitted").get("driver") or data.get("driver")
    record = {"class": failed, "attempt": attempt, "max_attempts": policy.max_attempts}
    if not policy.covers(failed):
        covered = ", ".join(AFTER[c] for c in policy.on)
        why = f"its policy does not retry after {AFTER[failed]} (only after {covered})"
        return _refuse(root, task_id, record, why)
    if attempt >= policy.max_attempts:
        if policy.max_attempts == 1:
            return _refuse(root, task_id, record, "its policy allows 1 attempt")
        why = f"that was the last of {policy.max_attempts} attempts"
        return _refuse(root, task_id, record, why)
    if not name:
        return _refuse(root, task_id, record, "it was never submitted to a driver")
    info = load_driver(root, name).cluster_info()
    before = Resources.from_dict(data.get("resources"))
    usage = read_usage(root, task_id) if failed == OUT_OF_MEMORY else None
    peak = usage.memory_peak / 1e9 if usage and usage.memory_peak else None
    growth = grow(before, failed, policy, info, peak)
    if growth.resources is None:
        return _refuse(root, task_id, record, growth.why)
    record.update(
        attempt=attempt + 1,
        before=before.to_dict(),
        after=growth.resources.to_dict(),
        peak_gb=growth.peak,
        retried=task_id,
    )
    return name, task_id, {"resources": growth.resources.to_dict(), "retry_attempt": record}


def _run_again_below(root, task_id: str) -> list[tuple[str, str, dict]]:
    """For a task cancelled because a task it waited for failed, once every such failure
    has been retried automatically: it and the tasks between (cancelled the same way) run
    again, waiting for the retries. [] otherwise (then settled, unless a failure above it
    is not decided yet).
    """
    reason = read_marker(root, task_id, "cancelled").get("reason") or ""
    failed, between = _upstream(root, task_id) if reason.startswith(UPSTREAM) else ([], [])
    if not failed or retry_of(root, task_id) is not None:
        _settled.add((root.path, task_id))
        return []
    retry_failed(root, failed, ["failure"] * len(failed))  # decided now, if not yet
    if any((root.path, f) not in _settled for f in failed):
        return []  # a failure above still being recorded: looked at again next time
    if not all(_automatic(root, retry_of(root, f)) for f in failed):
        _settled.add((root.path, task_id))
        return []
    name = read_marker(root, task_id, "submitted").get("driver")
    fields = {"retry_upstream": failed}
    chosen = [t for t in between if retry_of(root, t) is None] + [task_id]
    return [(name, t, fields) for t in chosen] if name else []


def _upstream(root, task_id: str) -> tuple[list[str], list[str]]:
    """The failed tasks above a task, and the tasks between (cancelled for them), each
    after its own parents.
    """
    failed: list[str] = []
    between: list[str] = []
    seen: set[str] = set()

    def visit(child: str) -> None:
        for parent in depends_on(root, child):
            if parent in seen:
                continue
            seen.add(parent)
            status = marker_status(root, parent)
            if status == "failure":
                failed.append(parent)
            elif status == "cancelled":
                why = read_marker(root, parent, "cancelled").get("reason") or ""
                if why.startswith(UPSTREAM):
                    visit(parent)
                    between.append(parent)

    visit(task_id)
    return failed, between


def _automatic(root, retry_id: str | None) -> bool:
    """Whether a retry was made automatically (for a failure, or one above it)."""
    if retry_id is None:
        return False
    data = read_data(root, retry_id)
    return "retry_attempt" in data or "retry_upstream" in data


def _refuse(root, task_id: str, record: dict, why: str) -> None:
    """Keep why a failed task is not retried (whoever writes it, it says the same)."""
    try:
        store.write_json(root.task_file(task_id, NOT_RETRIED), {**record, "why": why})
    except OSError:
        return None  # a root this process can't write to: someone else will say it
    _settled.add((root.path, task_id))
    return None


def _make(root, name: str, chosen: list[tuple[str, dict]]) -> None:
    """Make the retries (in one go for a driver; one by one if that is refused)."""
    ids = [task_id for task_id, _ in chosen]
    try:
        retry_tasks(root, ids, ["failure"] * len(ids), name, None, [f for _, f in chosen])
    except OSError:
        _settled.update((root.path, task_id) for task_id in ids)
        return  # a root this process can't write to: its owner's lookups retry them
    except HipercowError as e:
        made = (retry_of(root, task_id) for task_id in ids)
        unsent = [r for r in made if r and marker_status(root, r) == "created"]
        if unsent and str(e).startswith("Submit"):  # made, but the driver refused them
            _settled.update((root.path, task_id) for task_id in ids)
            warn(
                f"Automatic retries made but not submitted ({', '.join(map(short_id, unsent))}"
                f"); task_submit() submits them: {str(e).splitlines()[0]}"
            )
            return
        if len(chosen) > 1:
            for one in chosen:
                _make(root, name, [one])
            return
        task_id, fields = chosen[0]
        if retry_of(root, task_id) is None:  # not another process's retry made meanwhile
            why = str(e).split("\n")[0]
            _refuse(root, task_id, fields.get("retry_attempt", {}), why)
            return
    _settled.update((root.path, task_id) for task_id in ids)


def attempt_words(root, task_id: str) -> str | None:
    """'attempt 2 of 3: out of memory at 2 GB, now 3 GB', and/or 'not retried: ...' (why
    a failed task with a retry policy was not retried); None for a first attempt that was
    not refused a retry (or a task without a policy).
    """
    parts = []
    data = read_data(root, task_id)
    record = data.get("retry_attempt")
    if isinstance(record, dict):
        parts.append(attempt_text(record))
    above = data.get("retry_upstream")
    if isinstance(above, list) and above:
        names = ", ".join(short_id(t) for t in above)
        parts.append(f"run again: upstream task {names} was retried")
    refused = store.read_json_or(root.task_file(task_id, NOT_RETRIED))
    if isinstance(refused, dict) and refused.get("why"):
        parts.append(f"not retried: {refused['why']}")
    return "; ".join(parts) or None


def attempt_text(record: dict) -> str:
    """One automatic retry in words, from what it keeps of its cause."""
    head = f"attempt {record.get('attempt')} of {record.get('max_attempts')}"
    failed = record.get("class")
    before = Resources.from_dict(record.get("before"))
    after = Resources.from_dict(record.get("after"))
    if failed == OUT_OF_MEMORY:
        field = "memory_per_node" if after.memory_per_node is not None else "memory_per_process"
        was, now = getattr(before, field), getattr(after, field)
        peak = record.get("peak_gb")
        was_words = f"{gb_words(peak)} (its peak)" if was is None and peak else gb_words(was)
        per = " per process" if field == "memory_per_process" else ""
        return f"{head}: out of memory at {was_words}{per}, now {gb_words(now)}{per}"
    if failed == TIMEOUT:
        was = format_minutes(before.max_runtime) if before.max_runtime else "?"
        return f"{head}: out of time at {was}, now {format_minutes(after.max_runtime)}"
    return f"{head}: after {AFTER.get(failed, failed)}, same resources"
