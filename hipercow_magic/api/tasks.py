"""The task handle (`Task`) and the functions that look at and act on existing tasks:
status, times, info, result, exports, logs, wait, cancel, retry, list and purge.
"""

from __future__ import annotations

import sys
import time
import warnings

from hipercow_magic.api.info import TaskInfo
from hipercow_magic.core import store
from hipercow_magic.core.errors import HipercowError, TaskNotFinishedError, TaskWaitTimeout
from hipercow_magic.core.options import options
from hipercow_magic.core.resources import Resources
from hipercow_magic.core.root import check_task_id, find_root, task_ids
from hipercow_magic.core.status import ACTIVE, TERMINAL
from hipercow_magic.core.task import (
    collect_times,
    load_exports,
    marker_status,
    read_data,
    read_log,
    read_marker,
    read_result_record,
    result_value,
)
from hipercow_magic.drivers.registry import load_driver
from hipercow_magic.engine.listing import list_tasks, purge_apply, purge_plan
from hipercow_magic.engine.retry import follow_ids, retry_chain, retry_tasks
from hipercow_magic.engine.statuses import (
    check_exists,
    poll_interval,
    submitted_driver,
    task_statuses,
)


# ---- handles ----------------------------------------------------------------------------
class Task:
    """A handle on one task, offering the task functions as methods."""

    def __init__(self, task_id: str, root=None):
        self.id = check_task_id(task_id)
        self.root = find_root(root)

    def __repr__(self) -> str:
        known = self.root.terminal_cache.get(self.id)  # no status query: repr does no I/O
        return f"<hipercow task {self.id}{f' ({known})' if known else ''}>"

    def __eq__(self, other) -> bool:
        return isinstance(other, Task) and other.id == self.id and other.root == self.root

    def __hash__(self) -> int:
        return hash(self.id)

    def status(self, follow=True):
        return task_status(self.id, follow=follow, root=self.root)

    def info(self, follow=True):
        return task_info(self.id, follow=follow, root=self.root)

    def result(self, follow=True):
        return task_result(self.id, follow=follow, root=self.root)

    def exports(self, follow=True):
        return task_exports(self.id, follow=follow, root=self.root)

    def log(self, outer=False, follow=True):
        return task_log_value(self.id, outer=outer, follow=follow, root=self.root)

    def wait(self, timeout=None, for_start=False, progress=False, follow=True):
        return task_wait(
            self.id,
            timeout=timeout,
            for_start=for_start,
            progress=progress,
            follow=follow,
            root=self.root,
        )

    def cancel(self, follow=True):
        return task_cancel(self.id, follow=follow, root=self.root)

    def retry(self, driver=None, resources=None):
        return task_retry(self.id, driver=driver, resources=resources, root=self.root)


def _one(task_id, follow: bool, root) -> tuple:
    """(root, id) for one task id or handle, following its retry chain if asked."""
    root = find_root(root)
    task_id = check_task_id(task_id)
    if follow:
        task_id = follow_ids(root, [task_id])[0]
    return root, task_id


# ---- looking at tasks ---------------------------------------------------------------


def task_status(ids, follow: bool = True, root=None):
    """Status of one task (a string) or many (a list); None for an unknown id."""
    root = find_root(root)
    ids, scalar = task_ids(ids)
    if follow:
        ids = follow_ids(root, ids)
    out = task_statuses(root, ids)
    return out[0] if scalar else out


def task_times(ids, root=None) -> list[dict]:
    """Created / submitted / started / finished of each task, in epoch seconds."""
    root = find_root(root)
    ids, _ = task_ids(ids)
    return [collect_times(root, i) for i in ids]


def task_summaries(ids, root=None) -> list[dict]:
    """One row per task for lists and panels: name, type, status, resources, times."""
    root = find_root(root)
    ids, _ = task_ids(ids)
    statuses = task_statuses(root, ids)
    rows = []
    now = time.time()
    for task_id, status in zip(ids, statuses):
        data = store.read_json_or(root.task_file(task_id, "data.json")) or {}
        times = collect_times(root, task_id)
        started, finished = times.get("started"), times.get("finished")
        created = times.get("created")
        if started is not None and created is not None:
            waited = started - created
        elif status in ("created", "submitted") and created is not None:
            waited = now - created  # still waiting
        else:
            waited = None
        rows.append(
            {
                "id": task_id,
                "name": data.get("name"),
                "type": data.get("type"),
                "status": status,
                "driver": data.get("driver"),
                "resources": Resources.from_dict(data.get("resources")).summary(),
                **times,
                "waited": waited,
                "ran_for": None if started is None else (finished or now) - started,
            }
        )
    return rows


def task_info(task_id, follow: bool = True, root=None) -> TaskInfo:
    """Everything known about a task, including the scheduler's view while it is active."""
    root, task_id = _one(task_id, follow, root)
    data = read_data(root, task_id)
    status = task_statuses(root, [task_id])[0]
    driver = read_marker(root, task_id, "submitted").get("driver") or data.get("driver")
    scheduler = task_scheduler_info(task_id, root) if status in ACTIVE else {}
    reason = read_marker(root, task_id, status).get("reason") if status in TERMINAL else None
    return TaskInfo(
        task_id,
        status,
        driver,
        data,
        collect_times(root, task_id),
        retry_chain(root, task_id),
        scheduler,
        reason,
    )


def task_scheduler_info(task_id, root=None) -> dict:
    """The scheduler's view of a submitted or running task (state, position, reason, node).

    Unlike `task_info`, this makes no status query, so a display refreshing many tasks can
    ask it for a few of them per tick; {} for a task that is not queued or running.
    """
    root, task_id = _one(task_id, False, root)
    if marker_status(root, task_id) not in ACTIVE:
        return {}
    driver = submitted_driver(root, task_id)
    return driver.info(task_id) if driver else {}


def task_result(task_id, follow: bool = True, root=None):
    """The task's value; for a failure, the exception raised on the node (with its traceback)."""
    root, task_id = _one(task_id, follow, root)
    check_exists(root, [task_id])
    return result_value(root, task_id, task_statuses(root, [task_id])[0])


def task_exports(task_id, follow: bool = True, root=None) -> dict:
    """The names a successful expression task assigned at top level, with their values."""
    root, task_id = _one(task_id, follow, root)
    status = task_statuses(root, [task_id])[0]
    if status != "success":
        raise TaskNotFinishedError(
            f"Exports of task '{task_id}' not available, status is '{status}'"
        )
    values, problems = load_exports(read_result_record(root, task_id))
    if problems:
        warnings.warn(
            "Some of the task's values can't be loaded here, so they are left out: "
            + "; ".join(f"'{k}' ({v})" for k, v in problems.items()),
            stacklevel=2,
        )
    return values


def task_log_value(task_id, outer: bool = False, follow: bool = True, root=None) -> str | None:
    """The task's log (or the scheduler's own log with `outer=True`); None if there is none."""
    root, task_id = _one(task_id, follow, root)
    read_data(root, task_id)  # an unknown id is an error
    driver = submitted_driver(root, task_id)
    if driver is not None:
        return driver.log(task_id, outer=outer)
    return None if outer else read_log(root, task_id)[0]


def task_log_show(task_id, outer: bool = False, follow: bool = True, root=None) -> None:
    value = task_log_value(task_id, outer=outer, follow=follow, root=root)
    if value is None:
        print(f"No logs for task '{check_task_id(task_id)}' (yet?)")
    elif not value:
        print(f"Empty logs for task '{check_task_id(task_id)}' (so far?)")
    else:
        print(value, end="" if value.endswith("\n") else "\n")


def task_log_read(task_id, offset: int = 0, root=None) -> tuple[str | None, int]:
    """Log text from byte `offset`, and the offset to read from next time (for tailing)."""
    root = find_root(root)
    return read_log(root, check_task_id(task_id), offset)


def task_log_watch(
    task_id,
    poll: float = 0.25,
    timeout: float | None = None,
    follow: bool = True,
    root=None,
    out=None,
) -> bool | None:
    """Print the log as it grows until the task finishes; True/False, None on timeout."""
    root, task_id = _one(task_id, follow, root)
    if task_statuses(root, [task_id])[0] == "created":
        raise HipercowError(f"Cannot watch logs of task '{task_id}', which not been submitted")
    out = out or sys.stdout
    offset = 0
    deadline = None if timeout is None else time.monotonic() + timeout
    try:
        while True:
            status = task_statuses(root, [task_id])[0]
            text, offset = read_log(root, task_id, offset)
            if text:
                out.write(text)
                out.flush()
            if status in TERMINAL:
                return status == "success"
            if deadline is not None and time.monotonic() > deadline:
                return None
            time.sleep(poll)
    except KeyboardInterrupt:
        return None


def task_wait(
    task_id,
    timeout: float | None = None,
    for_start: bool = False,
    progress: bool = False,
    follow: bool = True,
    root=None,
) -> bool:
    """Wait until the task finishes (or starts); True for success, False otherwise."""
    root, task_id = _one(task_id, follow, root)
    check_exists(root, [task_id])
    status = task_statuses(root, [task_id])[0]
    if status == "created":
        raise HipercowError(f"Cannot wait on task '{task_id}', which has not been submitted")
    deadline = None if timeout is None else time.monotonic() + timeout
    delay = options.poll_interval
    last = None
    while True:
        if progress and status != last:
            print(f"Task '{task_id[:8]}': {status}", file=sys.stderr)
            last = status
        if for_start and status == "running":
            return True
        if status in TERMINAL:
            return status == "success"
        if deadline is not None and time.monotonic() >= deadline:
            what = "start" if for_start else "complete"
            raise TaskWaitTimeout(f"Task '{task_id}' did not {what} in time (status: {status})")
        time.sleep(delay if deadline is None else max(0.0, min(delay, deadline - time.monotonic())))
        delay = min(delay * 1.5, poll_interval(root, task_id))  # the driver may back off
        status = task_statuses(root, [task_id])[0]


def task_cancel(ids, follow: bool = True, root=None):
    """Cancel queued and running tasks; returns whether each was cancelled."""
    root = find_root(root)
    ids, scalar = task_ids(ids)
    if follow:
        ids = follow_ids(root, ids)
    check_exists(root, ids)
    statuses = task_statuses(root, ids)
    eligible = [k for k, s in enumerate(statuses) if s in ACTIVE]
    result = [False] * len(ids)
    by_driver: dict[str, list[int]] = {}
    for k in eligible:
        name = read_marker(root, ids[k], "submitted").get("driver")
        if name:
            by_driver.setdefault(name, []).append(k)
    for name, positions in by_driver.items():
        done = load_driver(root, name).cancel([ids[k] for k in positions])
        for k, ok in zip(positions, done):
            result[k] = ok
    print(cancel_report(ids, statuses, eligible, result))
    return result[0] if scalar else result


def cancel_report(ids, statuses, eligible, result) -> str:
    """Hipercow's cancel messages."""
    n, n_ok, n_el = len(ids), sum(result), len(eligible)
    if n == 1:
        if result[0]:
            return f"✔ Successfully cancelled '{ids[0]}'"
        if not eligible:
            return f"ℹ Did not try to cancel '{ids[0]}' as it had status '{statuses[0]}'"
        return f"✖ Did not manage to cancel '{ids[0]}' which had status '{statuses[0]}'"
    if n_ok == n:
        return f"✔ Successfully cancelled {n} tasks"
    if n_el == 0:
        return f"ℹ Did not try to cancel any of {n} tasks as none were eligible"
    eligible_text = "the 1 eligible task" if n_el == 1 else f"all {n_el} eligible tasks"
    if n_ok == n_el:
        return f"✔ Successfully cancelled {eligible_text} (of the {n} requested)"
    if n_ok == 0:
        return f"✖ Failed to cancel {eligible_text} (of the {n} requested)"
    return f"! Cancelled {n_ok} of {n_el} eligible tasks (of the {n} requested)"


def task_retry(ids, driver=None, resources=None, root=None):
    """Run finished tasks again as new tasks in the same chain; returns the new handle(s)."""
    root = find_root(root)
    ids, scalar = task_ids(ids)
    check_exists(root, ids)
    new = retry_tasks(root, ids, task_statuses(root, follow_ids(root, ids)), driver, resources)
    handles = [Task(i, root) for i in new]
    return handles[0] if scalar else handles


def task_list(
    with_status=None, in_bundle=None, finished_before=None, task_ids=None, root=None
) -> list[str]:
    """Ids of the root's tasks, newest first, filtered by status, bundle (glob) or age."""
    return list_tasks(find_root(root), with_status, in_bundle, finished_before, task_ids)


def hipercow_purge(
    task_ids=None,
    finished_before=None,
    in_bundle=None,
    with_status=None,
    dry_run: bool = False,
    root=None,
) -> list[str]:
    """Delete finished tasks, with whole retry chains and the bundles holding them.

    Args:
        task_ids: ids (or handles) to delete.
        finished_before: only tasks that finished before this (a datetime, a timedelta ago,
            or '1h', '2 days', '3 weeks').
        in_bundle: only tasks in bundles whose names match this glob (or these globs).
        with_status: only tasks with this status (or these): created or a finished one.
        dry_run: say what would be deleted, delete nothing.
        root: the hipercow root (default: found from the working directory).

    Returns:
        The ids of the tasks deleted (or that would be).
    """
    root = find_root(root)
    plan = purge_plan(root, task_ids, finished_before, in_bundle, with_status)
    if plan.chained:
        n = len(plan.chained)
        print(f"ℹ Also purging {n} task{'s' if n > 1 else ''} from retry chains")
    n = len(plan.all_ids)
    print(f"ℹ {'Would purge' if dry_run else 'Purging'} {n} task{'s' if n != 1 else ''}")
    if plan.bundles:
        n = len(plan.bundles)
        print(
            f"ℹ {'Would delete' if dry_run else 'Deleting'} {n} task bundle{'s' if n > 1 else ''}"
        )
    if not dry_run:
        purge_apply(root, plan)
    return plan.all_ids
