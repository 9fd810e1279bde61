"""Task dependencies: checking the tasks a new task waits for, grouping tasks by the parents
they still wait for when they are submitted, and ending (on every driver) the tasks whose
parents failed or were cancelled.

A task's `depends_on` (data.json) never changes; the parents it still waited for when it was
submitted are the `after` of its submitted marker, which is what status lookups follow, so a
task without dependencies costs them nothing.
"""

from __future__ import annotations

import os

from hipercow_magic.core.errors import HipercowError
from hipercow_magic.core.format import short_id
from hipercow_magic.core.task import marker_status, read_data, read_marker, write_terminal
from hipercow_magic.drivers.base import upstream_reason

_depends: dict[tuple[str, str], list[str]] = {}  # (root path, task id) -> its depends_on


def depends_on(root, task_id: str) -> list[str]:
    """The ids of the tasks `task_id` depends on ([] for none), read once per process."""
    key = (root.path, task_id)
    found = _depends.get(key)
    if found is None:
        found = _depends[key] = list(read_data(root, task_id).get("depends_on") or [])
    return found


def parent_problem(root, parent: str, status: str | None, child: str = "this task") -> str | None:
    """Why `child` can't wait for `parent` (which has `status`): it does not exist, failed,
    was cancelled or was never submitted; None when it may.
    """
    if status is None:
        return (
            f"Task '{parent}', which {child} depends on, does not exist in the root at "
            f"'{root.path}'"
        )
    if status in ("failure", "cancelled"):
        ended = "failed" if status == "failure" else "was cancelled"
        reason = read_marker(root, parent, status).get("reason")
        return (
            f"Task {short_id(parent)}, which {child} depends on, {ended}"
            f"{': ' + reason if reason else ''}\nRetry it first (task_retry) and depend on "
            "the retry, or drop the dependency."
        )
    if status == "created":
        return (
            f"Task {short_id(parent)}, which {child} depends on, has not been submitted "
            f"(status 'created')\nSubmit it first: task_submit('{parent}') or "
            f"`hipercow task submit {parent}`."
        )
    return None


def check_parents(root, pairs: list[tuple[str | None, str]]) -> list[str]:
    """The full ids of the tasks a new task depends on, checked.

    Args:
        root: the new task's root.
        pairs: (the root path of a handle, or None for an id given as text; a full task id).

    Returns:
        The ids, without repeats, in order.

    Raises:
        HipercowError: a task of another root, one that does not exist, or one that failed,
            was cancelled or was never submitted (nothing is written).
    """
    ids: list[str] = []
    for handle_root, task_id in pairs:
        if handle_root is not None and os.path.realpath(handle_root) != root.path:
            raise HipercowError(
                f"Task {short_id(task_id)} belongs to the root at '{handle_root}', not to "
                f"this task's root at '{root.path}'\nA task can depend only on tasks of its "
                "own root."
            )
        problem = parent_problem(root, task_id, marker_status(root, task_id))
        if problem:
            raise HipercowError(problem)
        if task_id not in ids:
            ids.append(task_id)
    return ids


def submission_groups(
    root, ids: list[str], shared: list[str] | None = None
) -> list[tuple[list[str], list[str]]]:
    """The tasks to submit, grouped by the parents they still wait for: (after, ids) pairs
    in the order to submit them (a group after those holding its parents). `shared`, when
    given, is what every one of `ids` depends on (their data.json is then not read).

    A parent that succeeded is no constraint; one submitted in the same call, or still
    submitted or running, is waited for.

    Raises:
        HipercowError: a parent failed, was cancelled, no longer exists, or was never
            submitted (and is not submitted with it); nothing is submitted then.
    """

    def parents_of(task_id: str) -> list[str]:
        return list(shared) if shared is not None else depends_on(root, task_id)

    batch = set(ids)
    level: dict[str, int] = {}

    def depth(task_id: str) -> int:  # 0: no parent in the batch
        if task_id not in level:
            level[task_id] = 0
            inside = [p for p in parents_of(task_id) if p in batch]
            level[task_id] = 1 + max(map(depth, inside)) if inside else 0
        return level[task_id]

    groups: dict[tuple[int, tuple[str, ...]], list[str]] = {}
    for task_id in ids:
        after = []
        for parent in parents_of(task_id):
            status = "submitted" if parent in batch else marker_status(root, parent)
            if status == "success":
                continue
            problem = parent_problem(root, parent, status, f"task {short_id(task_id)}")
            if problem:
                raise HipercowError(problem)
            after.append(parent)
        groups.setdefault((depth(task_id), tuple(after)), []).append(task_id)
    ordered = sorted(groups.items(), key=lambda item: item[0][0])  # stable: first come first
    return [(list(after), group) for (_, after), group in ordered]


def waiting_for(
    root, task_id: str, parents: list[str] | None = None
) -> list[tuple[str, str | None]]:
    """The tasks `task_id` depends on (`parents`, when the caller has read them) that have
    not succeeded, with their statuses.
    """
    out = []
    for parent in depends_on(root, task_id) if parents is None else parents:
        status = marker_status(root, parent)
        if status != "success":
            out.append((parent, status))
    return out


def waiting_text(waiting: list[tuple[str, str | None]]) -> str:
    """'waiting for task 1a2b3c4d (running)' for the tasks `waiting_for` gives."""
    return "waiting for " + ", ".join(
        f"task {short_id(parent)} ({status or 'gone'})" for parent, status in waiting
    )


def end_dependents(root, held: dict[str, list[str]]) -> dict[str, str]:
    """Cancel, with the reason, the submitted tasks whose parents failed or were cancelled.

    Args:
        root: the tasks' root.
        held: each submitted task's `after` (the parents it was submitted waiting for).

    Returns:
        The tasks now ended this way (by this call or another process), with their reasons;
        their drivers are still to be told (a job may still be queued there).
    """
    ended = {}
    for task_id, after in held.items():
        reason = upstream_reason(root, after)
        if reason is None:
            continue
        try:
            write_terminal(root, task_id, "cancelled", reason=reason)
        except OSError:
            continue  # another user's task, or a full disk: its own scheduler ends it
        if marker_status(root, task_id) == "cancelled":
            ended[task_id] = reason
    return ended


def held_after(marker: dict, status: str | None) -> list[str]:
    """The parents a submitted task waits for, from its submitted marker ([] once it runs)."""
    return list(marker.get("after") or []) if status == "submitted" else []
