"""Watching tasks run: reading, showing and following their logs, and waiting for them."""

from __future__ import annotations

import contextlib
import sys

from hipercow_magic.core.errors import HipercowError, TaskWaitTimeout
from hipercow_magic.core.format import short_id
from hipercow_magic.core.root import check_task_id, find_root
from hipercow_magic.core.status import TERMINAL
from hipercow_magic.core.task import read_data, read_log
from hipercow_magic.engine.retry import follow_one
from hipercow_magic.engine.statuses import check_exists, submitted_driver, watch_statuses


def task_log_value(task_id, outer: bool = False, follow: bool = True, root=None) -> str | None:
    """The task's log: what its code printed, with the runner's header and footer.

    Args:
        task_id: the task's id, or a Task handle.
        outer: the scheduler's own log for the task (e.g. Slurm's output file) instead.
        follow: for a retried task, the log of the newest task of its retry chain.
        root: the hipercow root (default: found from the working directory).

    Returns:
        The log text so far, or None when there is none yet (or no outer log).

    Raises:
        HipercowError: the task does not exist.
    """
    root = find_root(root)
    task_id = follow_one(root, task_id, follow)
    read_data(root, task_id)  # an unknown id is an error
    driver = submitted_driver(root, task_id)
    if driver is not None:
        return driver.log(task_id, outer=outer)
    return None if outer else read_log(root, task_id)[0]


def task_log_show(task_id, outer: bool = False, follow: bool = True, root=None) -> None:
    """Print the task's log, or say that there is none (yet) or that it is empty.

    Args:
        task_id: the task's id, or a Task handle.
        outer: the scheduler's own log for the task instead.
        follow: for a retried task, the log of the newest task of its retry chain.
        root: the hipercow root (default: found from the working directory).
    """
    value = task_log_value(task_id, outer=outer, follow=follow, root=root)
    if value is None:
        print(f"No logs for task '{check_task_id(task_id)}' (yet?)")
    elif not value:
        print(f"Empty logs for task '{check_task_id(task_id)}' (so far?)")
    else:
        print(value, end="" if value.endswith("\n") else "\n")


def task_log_read(task_id, offset: int = 0, root=None) -> tuple[str | None, int]:
    """Part of the log, for tailing it: call again with the offset returned.

    Args:
        task_id: the task's id, or a Task handle.
        offset: the byte to read from (0, then what the previous call returned).
        root: the hipercow root (default: found from the working directory).

    Returns:
        The text from `offset` (None when there is no log yet) and the offset to read from
        next time.
    """
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
    """Print the log as it grows until the task finishes (Ctrl-C stops watching, not the task).

    Args:
        task_id: the task's id, or a Task handle.
        poll: seconds between looks at the log (its end is seen at once where the driver
            tells of it).
        timeout: stop watching after this many seconds (default: never).
        follow: for a retried task, watch the newest task of its retry chain.
        root: the hipercow root (default: found from the working directory).
        out: where to write the log (default: standard output).

    Returns:
        True if the task succeeded, False if it failed or was cancelled, None if watching
        stopped first (timeout or Ctrl-C).

    Raises:
        HipercowError: the task has not been submitted.
    """
    root = find_root(root)
    task_id = check_task_id(task_id)
    watched = follow_one(root, task_id, follow)
    out = out or sys.stdout
    offset = 0
    try:
        with contextlib.closing(
            watch_statuses(root, [task_id], follow=follow, timeout=timeout, every=poll)
        ) as seen:
            for (status,) in seen:
                if status == "created":
                    raise HipercowError(
                        f"Cannot watch logs of task '{watched}', which not been submitted"
                    )
                newest = follow_one(root, task_id, follow)
                if newest != watched:  # retried while watched: the rest of its log, then
                    text = read_log(root, watched, offset)[0] or ""  # its retry's
                    out.write(f"{text}\n── retried as task {short_id(newest)} ──\n")
                    watched, offset = newest, 0
                text, offset = read_log(root, watched, offset)
                if text:
                    out.write(text)
                    out.flush()
                if status in TERMINAL:
                    return status == "success"
    except KeyboardInterrupt:
        return None
    return None


def task_wait(
    task_id,
    timeout: float | None = None,
    for_start: bool = False,
    progress: bool = False,
    follow: bool = True,
    root=None,
) -> bool:
    """Wait until the task finishes (or starts): at once where the driver tells of starts and
    ends (local), else checking often at first, then less often.

    Args:
        task_id: the task's id, or a Task handle.
        timeout: seconds to wait at most (default: no limit).
        for_start: return as soon as the task is running.
        progress: print each change of status to standard error.
        follow: for a retried task, wait for the newest task of its retry chain.
        root: the hipercow root (default: found from the working directory).

    Returns:
        True if the task succeeded (or, with `for_start`, started); False if it failed or
        was cancelled.

    Raises:
        HipercowError: the task does not exist or has not been submitted.
        TaskWaitTimeout: `timeout` passed first.
    """
    root = find_root(root)
    task_id = check_task_id(task_id)
    check_exists(root, [follow_one(root, task_id, follow)])
    last = None
    watching = watch_statuses(root, [task_id], follow=follow, timeout=timeout)
    with contextlib.closing(watching) as seen:
        for (status,) in seen:
            if status == "created":
                raise HipercowError(
                    f"Cannot wait on task '{task_id}', which has not been submitted"
                )
            if progress and status != last:
                print(f"Task '{short_id(task_id)}': {status}", file=sys.stderr)
                last = status
            if for_start and status == "running":
                return True
            if status in TERMINAL:
                return status == "success"
    what = "start" if for_start else "complete"
    raise TaskWaitTimeout(f"Task '{task_id}' did not {what} in time (status: {status})")
