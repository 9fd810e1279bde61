"""The task handle (`Task`) and the functions that look at and act on existing tasks:
status, times, info, result, exports, cancel and retry. Rows for lists are in summaries.py,
logs and waiting in watching.py, listing and purging in listing.py.
"""

from __future__ import annotations

from hipercow_magic.api.info import TaskInfo, task_node
from hipercow_magic.api.retries import attempt_note
from hipercow_magic.api.summaries import task_summaries as task_summaries
from hipercow_magic.api.usage import usage_words
from hipercow_magic.api.watching import task_log_value, task_wait
from hipercow_magic.core.errors import TaskNotFinishedError, warn
from hipercow_magic.core.results import load_exports, read_result_record, result_value
from hipercow_magic.core.root import check_task_id, find_root, task_ids
from hipercow_magic.core.status import ACTIVE, TERMINAL
from hipercow_magic.core.task import collect_times, marker_status, read_data, read_marker
from hipercow_magic.drivers.registry import load_driver
from hipercow_magic.engine.dependencies import waiting_for
from hipercow_magic.engine.retry import follow_ids, follow_one, retry_chain, retry_tasks
from hipercow_magic.engine.statuses import check_exists, submitted_driver, task_statuses


# ---- handles ----------------------------------------------------------------------------
class Task:
    """A handle on one task, offering the task functions as methods.

    Args:
        task_id: the task's id (32 lowercase hexadecimal characters).
        root: the hipercow root (default: found from the working directory).

    `repr(task)` makes no status query: it shows a status only once one is known to be final.
    """

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
        """The task's status; see task_status()."""
        return task_status(self.id, follow=follow, root=self.root)

    def info(self, follow=True):
        """Everything known about the task; see task_info()."""
        return task_info(self.id, follow=follow, root=self.root)

    def result(self, follow=True):
        """The task's value, or the exception it raised; see task_result()."""
        return task_result(self.id, follow=follow, root=self.root)

    def exports(self, follow=True):
        """The names the task assigned, with their values; see task_exports()."""
        return task_exports(self.id, follow=follow, root=self.root)

    def log(self, outer=False, follow=True):
        """The task's log; see task_log_value()."""
        return task_log_value(self.id, outer=outer, follow=follow, root=self.root)

    def wait(self, timeout=None, for_start=False, progress=False, follow=True):
        """Wait until the task finishes (or starts); see task_wait()."""
        return task_wait(
            self.id,
            timeout=timeout,
            for_start=for_start,
            progress=progress,
            follow=follow,
            root=self.root,
        )

    def cancel(self, follow=True):
        """Cancel the task if it is queued or running; see task_cancel()."""
        return task_cancel(self.id, follow=follow, root=self.root)

    def retry(self, driver=None, resources=None):
        """Run the finished task again as a new task; see task_retry()."""
        return task_retry(self.id, driver=driver, resources=resources, root=self.root)


# ---- looking at tasks ---------------------------------------------------------------


def task_status(ids, follow: bool = True, root=None, problems: list[str] | None = None):
    """The status of one task or of many: created, submitted, running, success, failure or
    cancelled. Finished statuses come from files; the driver is asked once for all the tasks
    that are still queued or running.

    Args:
        ids: a task id or Task handle, a list of them, or a Bundle.
        follow: for a retried task, the status of the newest task of its retry chain.
        root: the hipercow root (default: found from the working directory).
        problems: a list that receives, instead of a HipercowWarning, why some statuses are
            only the last known (a driver that could not be asked); for displays.

    Returns:
        A status (a string) for one task, or a list of them in the order given; None for an
        id that is not a task of this root.

    Raises:
        HipercowError: an id is not a valid task id.
    """
    root = find_root(root)
    ids, scalar = task_ids(ids)
    if follow:
        ids = follow_ids(root, ids)
    out = task_statuses(root, ids, problems)
    return out[0] if scalar else out


def task_times(ids, root=None) -> list[dict]:
    """When each task was created, submitted, started and finished.

    Args:
        ids: a task id or Task handle, a list of them, or a Bundle.
        root: the hipercow root (default: found from the working directory).

    Returns:
        One dict per task with keys created, submitted, started and finished (epoch seconds;
        None for what has not happened yet).
    """
    root = find_root(root)
    ids, _ = task_ids(ids)
    return [collect_times(root, i) for i in ids]


def task_info(task_id, follow: bool = True, root=None) -> TaskInfo:
    """Everything known about a task, including the scheduler's view while it is active.

    Args:
        task_id: the task's id, or a Task handle.
        follow: for a retried task, the newest task of its retry chain.
        root: the hipercow root (default: found from the working directory).

    Returns:
        A TaskInfo; `print()` it for hipercow's layout.

    Raises:
        HipercowError: the task does not exist.
    """
    root = find_root(root)
    task_id = follow_one(root, task_id, follow)
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
        node=task_node(task_id, root),
        depends_on=[(p, marker_status(root, p)) for p in data.get("depends_on") or []],
        usage=usage_words(root, task_id),
        attempt=attempt_note(root, task_id, follow=False),
    )


def task_scheduler_info(task_id, root=None) -> dict:
    """The scheduler's view of a submitted or running task (state, position, reason, node).

    Unlike `task_info`, this makes no status query, so a display refreshing many tasks can
    ask it for a few of them per tick.

    Args:
        task_id: the task's id, or a Task handle.
        root: the hipercow root (default: found from the working directory).

    Returns:
        What the task's driver says about it; {} for a task that is not queued or running.
        A queued task held for others has `waiting_for`: those not succeeded yet, as
        (id, status) pairs.
    """
    root = find_root(root)
    task_id = check_task_id(task_id)
    status = marker_status(root, task_id)
    if status not in ACTIVE:
        return {}
    driver = submitted_driver(root, task_id)
    info = driver.info(task_id) if driver else {}
    held = waiting_for(root, task_id) if status == "submitted" else []
    return {**info, "waiting_for": held} if held else info


def task_result(task_id, follow: bool = True, root=None):
    """The task's value; for a failure, the exception raised on the node.

    The exception is returned, not raised; the node's traceback is in its
    `node_traceback` attribute (and its notes, on Python 3.11+).

    Args:
        task_id: the task's id, or a Task handle.
        follow: for a retried task, the result of the newest task of its retry chain.
        root: the hipercow root (default: found from the working directory).

    Returns:
        The value of the task's code (a script's is None), or the exception it raised.

    Raises:
        HipercowError: the task does not exist, or its value can't be loaded here.
        TaskNotFinishedError: the task has not finished (or was cancelled).
    """
    root = find_root(root)
    task_id = follow_one(root, task_id, follow)
    check_exists(root, [task_id])
    return result_value(root, task_id, task_statuses(root, [task_id])[0])


def task_exports(task_id, follow: bool = True, root=None) -> dict:
    """The names a successful expression task assigned at top level, with their values.

    Values that can't be loaded here are left out, with a warning naming them.

    Args:
        task_id: the task's id, or a Task handle.
        follow: for a retried task, the newest task of its retry chain.
        root: the hipercow root (default: found from the working directory).

    Returns:
        A dict from each name to its value.

    Raises:
        TaskNotFinishedError: the task has not succeeded.
    """
    root = find_root(root)
    task_id = follow_one(root, task_id, follow)
    status = task_statuses(root, [task_id])[0]
    if status != "success":
        raise TaskNotFinishedError(
            f"Exports of task '{task_id}' not available, status is '{status}'"
        )
    values, problems = load_exports(read_result_record(root, task_id))
    if problems:
        warn(
            "Some of the task's values can't be loaded here, so they are left out: "
            + "; ".join(f"'{k}' ({v})" for k, v in problems.items())
        )
    return values


def task_cancel(ids, follow: bool = True, root=None):
    """Cancel queued and running tasks, and print what happened.

    Args:
        ids: a task id or Task handle, a list of them, or a Bundle.
        follow: for a retried task, cancel the newest task of its retry chain.
        root: the hipercow root (default: found from the working directory).

    Returns:
        Whether the task was cancelled (a bool), or a list of them for many tasks; a task
        that was not queued or running is not cancelled.

    Raises:
        HipercowError: a task does not exist.
    """
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
    print(_cancel_report(ids, statuses, eligible, result))
    return result[0] if scalar else result


def _cancel_report(ids, statuses, eligible, result) -> str:
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
    """Run finished tasks again as new tasks, chained to the originals: looking up an
    original (with `follow`, the default) then finds its newest retry.

    Args:
        ids: a task id or Task handle, a list of them, or a Bundle.
        driver: the driver to submit to (default: the one configured).
        resources: resources from hipercow_resources() (default: each task's own).
        root: the hipercow root (default: found from the working directory).

    Returns:
        The new task's handle, or a list of them for many tasks.

    Raises:
        HipercowError: a task does not exist or has not finished.
    """
    root = find_root(root)
    ids, scalar = task_ids(ids)
    check_exists(root, ids)
    new = retry_tasks(root, ids, task_statuses(root, follow_ids(root, ids)), driver, resources)
    handles = [Task(i, root) for i in new]
    return handles[0] if scalar else handles
