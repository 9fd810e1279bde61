"""Task ids as people type them: a full id, or the first few characters every display shows."""

from __future__ import annotations

import re

from hipercow_magic.core.errors import HipercowError
from hipercow_magic.core.root import TASK_ID_RE, find_root
from hipercow_magic.engine.listing import list_tasks

MIN_PREFIX = 4
SHOWN_CANDIDATES = 10  # ids listed when a prefix is shared
_PREFIX_RE = re.compile(rf"^[0-9a-f]{{{MIN_PREFIX},32}}$")


def resolve_task_id(text, root=None) -> str:
    """The full id of the task that `text` names.

    Args:
        text: a full task id (32 hexadecimal characters), a `Task` handle, or the first
            characters of an id (at least 4, e.g. the 8 that every display shows); case is
            ignored.
        root: the hipercow root (default: found from the working directory).

    Returns:
        The 32-character id. A full id is returned as given, without looking for the task
        (the functions that use it say when it does not exist); a prefix must match exactly
        one task of the root.

    Raises:
        HipercowError: `text` is not an id or a prefix of at least 4 characters, no task id
            starts with it, or several do.
    """
    value = getattr(text, "id", text)
    if not isinstance(value, str):
        raise HipercowError(
            f"Invalid task identifier '{value}'\nGive a task id (32 hexadecimal characters), "
            f"its first {MIN_PREFIX} or more characters, or a Task handle."
        )
    value = value.strip().lower()
    if TASK_ID_RE.fullmatch(value):
        return value
    if not _PREFIX_RE.match(value):
        raise HipercowError(
            f"Invalid task identifier '{value}'\nGive a task id (32 hexadecimal characters), "
            f"its first {MIN_PREFIX} or more characters, or a Task handle."
        )
    matches = [i for i in list_tasks(find_root(root)) if i.startswith(value)]
    if len(matches) == 1:
        return matches[0]
    if not matches:
        raise HipercowError(f"No task id starts with '{value}'")
    shown = sorted(matches)[:SHOWN_CANDIDATES]
    more = len(matches) - len(shown)
    listing = "".join(f"\n  {i}" for i in shown) + (f"\n  ... and {more} more" if more else "")
    raise HipercowError(
        f"{len(matches)} task ids start with '{value}':{listing}\n"
        "Give more characters of the one you mean."
    )
