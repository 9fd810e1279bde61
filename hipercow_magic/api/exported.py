"""Whether values in a namespace are still what a task exported: byte for byte, as the
task's result holds them (never an object's identity alone, since a value changed in place
is the same object). A cell reading such a value can import it from that task instead of
capturing it again.
"""

from __future__ import annotations

from hipercow_magic.core import capture
from hipercow_magic.core.errors import HipercowError
from hipercow_magic.core.results import read_result_record
from hipercow_magic.core.root import find_root

_digests: dict[tuple[str, str, str], str | None] = {}  # (root, task, name) -> export digest


def unchanged_exports(task_id: str, values: dict, root=None) -> list[str]:
    """The names of `values` whose pickled bytes are those task `task_id` exported for that
    name (the task must have succeeded; its result is read once per name, then remembered).

    Args:
        task_id: a task's full id.
        values: names and their values now (e.g. in a notebook).
        root: the hipercow root (default: found from the working directory).

    Returns:
        The names whose values are unchanged since the task set them, in `values`' order;
        none when the task's result is gone or can't be trusted.
    """
    root = find_root(root)
    keys = {name: (root.path, task_id, name) for name in values}
    if any(key not in _digests for key in keys.values()):
        try:
            record = read_result_record(root, task_id)
        except (OSError, HipercowError):  # gone, or not to be trusted: capture the values
            return []
        blobs = (record.get("exports") or {}) if record.get("ok") else {}
        for name, key in keys.items():
            blob = blobs.get(name)
            _digests[key] = None if blob is None else capture.digest(blob)
    return [
        name
        for name, value in values.items()
        if _digests[keys[name]] is not None and _digests[keys[name]] == _digest(value, name)
    ]


def _digest(value, name: str) -> str | None:
    """The digest of a value's bytes as a task would export it (None: it can't be pickled
    now, and capturing it says why).
    """
    try:
        return capture.digest(capture.dumps(value, name))
    except HipercowError:
        return None
