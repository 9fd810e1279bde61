"""What displays say of automatic retries: which attempt a task is, what caused it and how
its request grew, or why a failed task was not retried.
"""

from __future__ import annotations

from hipercow_magic.core.root import find_root
from hipercow_magic.engine.autoretry import attempt_words
from hipercow_magic.engine.retry import follow_one


def attempt_note(root, task_id, follow: bool = True) -> str | None:
    """A task's attempt in words, for every display (widget, CLI, task_info, panel).

    'attempt 2 of 3: out of memory at 2 GB, now 3 GB', 'attempt 3 of 3: out of time at
    1m, now 2m', 'attempt 2 of 3: after a node failure, same resources'; for a failed task
    its policy did not retry, why: 'not retried: 4 GB is the most any node has' (after the
    attempt's words, separated by '; ', for a retry).

    Args:
        root: the hipercow root (a path or root object; None: found from the working
            directory).
        task_id: the task's id, or a Task handle.
        follow: for a retried task, the newest task of its retry chain.

    Returns:
        The words; None for a first attempt that was not refused a retry, and for a task
        without a retry policy.

    Raises:
        HipercowError: the task does not exist.
    """
    root = find_root(getattr(task_id, "root", None) if root is None else root)
    return attempt_words(root, follow_one(root, task_id, follow))
