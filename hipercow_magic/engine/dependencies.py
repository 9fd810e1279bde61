"""Task dependencies: checking the tasks a new task waits for."""

from __future__ import annotations

import os

from hipercow_magic.core.errors import HipercowError
from hipercow_magic.core.format import short_id
from hipercow_magic.core.task import marker_status, read_marker


def check_parents(root, pairs: list[tuple[str | None, str]]) -> list[str]:
    """The full ids of the tasks a new task depends on, checked.

    Args:
        root: the new task's root.
        pairs: (the root path of a handle, or None for an id given as text; a full task id).

    Returns:
        The ids, without repeats, in order.

    Raises:
        HipercowError: a task of another root, one that does not exist, or one that failed,
            was cancelled or was never submitted.
    """
    ids: list[str] = []
    for handle_root, task_id in pairs:
        if handle_root is not None and os.path.realpath(handle_root) != root.path:
            raise HipercowError(
                f"Task {short_id(task_id)} belongs to the root at '{handle_root}', not to "
                f"this task's root at '{root.path}'\nA task can depend only on tasks of its "
                "own root."
            )
        status = marker_status(root, task_id)
        if status is None:
            raise HipercowError(
                f"Task '{task_id}', which this task would depend on, does not exist in the "
                f"root at '{root.path}'"
            )
        if status in ("failure", "cancelled"):
            ended = "failed" if status == "failure" else "was cancelled"
            reason = read_marker(root, task_id, status).get("reason")
            raise HipercowError(
                f"Task {short_id(task_id)}, which this task would depend on, {ended}"
                f"{': ' + reason if reason else ''}\nRetry it first (task_retry) and depend "
                "on the retry, or drop the dependency."
            )
        if task_id not in ids:
            ids.append(task_id)
    return ids
