"""Bundles, as users see them: the `Bundle` handle and the hipercow_bundle_* functions."""

from __future__ import annotations

import contextlib

from hipercow_magic.api.tasks import (
    Task,
    task_cancel,
    task_log_value,
    task_result,
    task_retry,
    task_status,
    task_summaries,
)
from hipercow_magic.core.errors import HipercowError, TaskWaitTimeout
from hipercow_magic.core.root import check_task_id, find_root
from hipercow_magic.core.status import TERMINAL, count_statuses
from hipercow_magic.core.task import read_data, read_locals, read_marker
from hipercow_magic.engine.bundles import (
    bundle_delete,
    bundle_exists,
    bundle_list,
    bundle_load_ids,
    bundle_save,
    check_bundle_name,
    random_bundle_name,
    status_reduce,
)
from hipercow_magic.engine.retry import follow_ids
from hipercow_magic.engine.statuses import watch_statuses


class Bundle:
    """A named group of tasks, with the task operations over all of them.

    Made by the bulk creation functions, hipercow_bundle_create() or hipercow_bundle_load().

    Args:
        name: the bundle's name.
        ids: its tasks' ids, in order.
        root: the hipercow root (default: found from the working directory).
    """

    def __init__(self, name: str, ids: list[str], root=None):
        self.name = name
        self.ids = list(ids)
        self.root = find_root(root)

    def __repr__(self) -> str:
        return f"<hipercow bundle '{self.name}' with {len(self.ids)} tasks>"

    def __len__(self) -> int:
        return len(self.ids)

    @property
    def tasks(self):
        """A Task handle for each task, in order."""
        return [Task(i, self.root) for i in self.ids]

    def status(self, reduce: bool = False, follow: bool = True):
        """Each task's status, or with `reduce` one for all; see hipercow_bundle_status()."""
        statuses = task_status(self.ids, follow=follow, root=self.root)
        return status_reduce(statuses) if reduce else statuses

    def wait(
        self, timeout: float | None = None, fail_early: bool = True, progress: bool = False
    ) -> bool:
        """Wait for every task; with `fail_early`, stop at the first failure. True if all ok.

        See hipercow_bundle_wait().
        """
        flavour = "wait-fail-early" if fail_early else "wait-fail-late"
        last = None
        seen = watch_statuses(self.root, self.ids, follow=True, timeout=timeout)
        with contextlib.closing(seen):
            for statuses in seen:
                overall = status_reduce(statuses, flavour)
                if overall == "created":
                    raise HipercowError(
                        f"Cannot wait on bundle '{self.name}', which has tasks that "
                        "have not been submitted"
                    )
                if progress:
                    counts = count_statuses(statuses)
                    line = ", ".join(f"{n} {s}" for s, n in counts.items())
                    if line != last:
                        print(f"Bundle '{self.name}': {line}")
                        last = line
                if overall in TERMINAL:
                    return overall == "success"
        raise TaskWaitTimeout(f"Bundle '{self.name}' did not complete in time")

    def result(self, follow: bool = True, frame: bool = False):
        """Each task's value (or exception), in order; see task_result().

        With `frame`, a pandas DataFrame instead, one row per task in order: the columns of
        its row's parameters (the values it was created with, read from its captured
        inputs), then `status`, `value` (None unless it succeeded), `error` (why it failed
        or was cancelled, in one line) and `id` (the task that ran: with `follow`, a retried
        task's newest retry). Unfinished tasks are rows too, with their status. A parameter
        named like one of those four keeps its name; that column is then `task_<name>`.

        Raises:
            TaskNotFinishedError: without `frame`, a task has not finished.
            HipercowError: with `frame`, pandas is not installed.
        """
        if frame:
            return _result_frame(self, follow)
        return [task_result(i, follow=follow, root=self.root) for i in self.ids]

    def cancel(self, follow: bool = True) -> list[bool]:
        """Cancel the queued and running tasks; whether each was cancelled."""
        return task_cancel(self.ids, follow=follow, root=self.root)

    def retry(self, driver=None, resources=None, failed_only: bool = True) -> Bundle:
        """Retry the bundle's failed (or, with failed_only=False, all finished) tasks."""
        statuses = self.status()
        wanted = ("failure", "cancelled") if failed_only else TERMINAL
        chosen = [i for i, s in zip(self.ids, statuses) if s in wanted]
        if chosen:
            task_retry(chosen, driver=driver, resources=resources, root=self.root)
        return self

    def logs(self, follow: bool = True) -> list[str | None]:
        """Each task's log (None where there is none yet), in order."""
        return [task_log_value(i, follow=follow, root=self.root) for i in self.ids]


def hipercow_bundle_create(
    ids, name: str | None = None, overwrite: bool = True, root=None
) -> Bundle:
    """Group existing tasks under a name.

    Args:
        ids: task ids or Task handles.
        name: the bundle's name (letters, digits, '_', '-', '.'); default: a random one
            such as 'brisk_otter_3f2a'.
        overwrite: replace a bundle of that name; with False, an existing one is an error.
        root: the hipercow root (default: found from the working directory).

    Returns:
        The Bundle.

    Raises:
        HipercowError: no ids, an invalid name, or the bundle exists and `overwrite` is False.
    """
    root = find_root(root)
    ids = [check_task_id(i) for i in ids]
    if not ids:
        raise HipercowError("A bundle needs at least one task")
    name = check_bundle_name(name or random_bundle_name())
    if not overwrite and bundle_exists(root, name):
        raise HipercowError(f"Bundle '{name}' exists and overwrite is False")
    bundle_save(root, name, ids)
    return Bundle(name, ids, root)


def hipercow_bundle_load(name: str, root=None) -> Bundle:
    """A bundle saved in the root, by name.

    Args:
        name: the bundle's name.
        root: the hipercow root (default: found from the working directory).

    Returns:
        The Bundle.

    Raises:
        HipercowError: there is no such bundle.
    """
    root = find_root(root)
    return Bundle(name, bundle_load_ids(root, name), root)


def hipercow_bundle_list(root=None) -> list[str]:
    """The root's bundles.

    Args:
        root: the hipercow root (default: found from the working directory).

    Returns:
        Bundle names, newest first.
    """
    return bundle_list(find_root(root))


def hipercow_bundle_delete(name: str, root=None) -> None:
    """Delete a bundle; its tasks are kept (hipercow_purge deletes tasks).

    Args:
        name: the bundle's name.
        root: the hipercow root (default: found from the working directory).

    Raises:
        HipercowError: there is no such bundle.
    """
    bundle_delete(find_root(root), name)


def hipercow_bundle_status(bundle, reduce: bool = False, root=None):
    """The status of each of a bundle's tasks, or one status for all of them.

    Args:
        bundle: a Bundle, or the name of one.
        reduce: one status for the bundle: the first present of created, failure,
            cancelled, running, submitted, success (so 'success' means every task succeeded).
        root: the hipercow root (default: found from the working directory).

    Returns:
        A list of statuses in the bundle's order, or one status with `reduce`.
    """
    return _load(bundle, root).status(reduce=reduce)


def hipercow_bundle_wait(bundle, timeout=None, fail_early=True, progress=False, root=None) -> bool:
    """Wait for every task of a bundle to finish.

    Args:
        bundle: a Bundle, or the name of one.
        timeout: seconds to wait at most (default: no limit).
        fail_early: stop waiting as soon as a task fails or is cancelled.
        progress: print the counts of each status as they change.
        root: the hipercow root (default: found from the working directory).

    Returns:
        True if every task succeeded, False otherwise.

    Raises:
        HipercowError: a task of the bundle has not been submitted.
        TaskWaitTimeout: `timeout` passed first.
    """
    return _load(bundle, root).wait(timeout=timeout, fail_early=fail_early, progress=progress)


def hipercow_bundle_result(bundle, root=None, *, frame: bool = False):
    """The result of each of a bundle's tasks.

    Args:
        bundle: a Bundle, or the name of one.
        root: the hipercow root (default: found from the working directory).
        frame: a pandas DataFrame instead of a list: one row per task, its parameters,
            status, value, error and id (see Bundle.result).

    Returns:
        Each task's value, or the exception it raised, in the bundle's order; or the
        DataFrame with `frame`.

    Raises:
        TaskNotFinishedError: without `frame`, a task has not finished.
        HipercowError: with `frame`, pandas is not installed.
    """
    return _load(bundle, root).result(frame=frame)


def hipercow_bundle_cancel(bundle, root=None) -> list[bool]:
    """Cancel a bundle's queued and running tasks.

    Args:
        bundle: a Bundle, or the name of one.
        root: the hipercow root (default: found from the working directory).

    Returns:
        Whether each task was cancelled, in the bundle's order.
    """
    return _load(bundle, root).cancel()


def hipercow_bundle_retry(bundle, driver=None, resources=None, root=None) -> Bundle:
    """Retry a bundle's failed and cancelled tasks (see task_retry()).

    Args:
        bundle: a Bundle, or the name of one.
        driver: the driver to submit the retries to (default: the one configured).
        resources: resources from hipercow_resources() (default: each task's own).
        root: the hipercow root (default: found from the working directory).

    Returns:
        The bundle; its statuses and results now follow the retries.
    """
    return _load(bundle, root).retry(driver=driver, resources=resources)


def hipercow_bundle_logs(bundle, root=None) -> list[str | None]:
    """The log of each of a bundle's tasks.

    Args:
        bundle: a Bundle, or the name of one.
        root: the hipercow root (default: found from the working directory).

    Returns:
        Each task's log (None where there is none yet), in the bundle's order.
    """
    return _load(bundle, root).logs()


def _parameters(root, task_id: str) -> dict:
    """The values of a bundle task's row, as it was created with them ({} for a task made
    outside a bundle): from its captured inputs, which are signed like its result.
    """
    data = read_data(root, task_id)
    row = data.get("row") or {}
    if not row:
        return {}
    captured = read_locals(root, task_id)
    if data.get("type") != "call":
        return {name: captured[name] for name in row}
    call = captured["call"]
    return {
        name: call["kwargs"][name] if name in call["kwargs"] else call["args"][0] for name in row
    }


def _why(root, summary: dict) -> str | None:
    """Why a task failed or was cancelled, in one line (None for the others)."""
    if summary["status"] == "failure":
        return summary.get("error") or "failed"
    if summary["status"] == "cancelled":
        return read_marker(root, summary["id"], "cancelled").get("reason") or "cancelled"
    return None


def _result_frame(bundle: Bundle, follow: bool):
    """The bundle's tasks as a DataFrame: parameters, status, value, error, id."""
    try:
        import pandas as pd
    except ImportError:
        raise HipercowError(
            "Bundle.result(frame=True) needs pandas, which is not installed here: "
            "`pip install pandas`, or call result() for a list of values"
        ) from None
    root = bundle.root
    ids = follow_ids(root, bundle.ids) if follow else list(bundle.ids)
    rows = []
    for original, summary in zip(bundle.ids, task_summaries(ids, root=root)):
        success = summary["status"] == "success"
        task = {
            "status": summary["status"],
            "value": task_result(summary["id"], follow=False, root=root) if success else None,
            "error": _why(root, summary),
            "id": summary["id"],
        }
        parameters = _parameters(root, original)
        task = {(f"task_{k}" if k in parameters else k): v for k, v in task.items()}
        rows.append({**parameters, **task})
    return pd.DataFrame(rows)


def _load(bundle, root) -> Bundle:
    return bundle if isinstance(bundle, Bundle) else hipercow_bundle_load(bundle, root)
