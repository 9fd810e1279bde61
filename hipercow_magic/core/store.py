"""File writes and small readers used for everything on disk.

Writes are atomic (a temporary file in the same folder, then a rename), except
`write_plain`, for files that a marker written after them vouches for (a task's
locals before its data.json; its result and times before its terminal marker).
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from typing import Any


def write_bytes(path: str, data: bytes) -> None:
    """Write `data` to `path` atomically (temporary file in the same folder, then rename)."""
    folder = os.path.dirname(path)
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=".tmp-")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise


def write_text(path: str, text: str) -> None:
    """Write `text` to `path` atomically."""
    write_bytes(path, text.encode())


def write_json(path: str, value: Any) -> None:
    """Write `value` as JSON to `path` atomically."""
    write_bytes(path, json.dumps(value, default=str).encode())


def write_plain(path: str, data: bytes) -> None:
    """Write without a rename, for a file nobody reads until a later marker exists."""
    with open(path, "wb") as f:
        f.write(data)


def read_json(path: str) -> Any:
    """The JSON value in the file at `path` (errors if it is missing or not JSON)."""
    with open(path, "rb") as f:
        return json.loads(f.read())


def read_json_or(path: str, default: Any = None) -> Any:
    """The JSON value in the file at `path`, or `default` if there is no such file."""
    try:
        return read_json(path)
    except FileNotFoundError:
        return default


def read_text_or(path: str, default: str | None = None) -> str | None:
    """The text of the file at `path` (undecodable bytes replaced), or `default` if there is
    no such file.
    """
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            return f.read()
    except FileNotFoundError:
        return default


def remove_file(path: str) -> None:
    """Delete a file; no error if it is already gone."""
    with contextlib.suppress(FileNotFoundError):
        os.unlink(path)


def create_exclusive(path: str, text: str = "") -> bool:
    """Create `path` with `text` only if it does not exist; True if this call created it."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
    except FileExistsError:
        return False
    with os.fdopen(fd, "w") as f:
        f.write(text)
    return True


def write_markers(root, ids: list[str], name: str, value: Any) -> None:
    """The same marker for many tasks: written once, then hard-linked into each task.

    Args:
        root: the hipercow root holding the tasks.
        ids: the tasks' ids.
        name: the marker's file name in each task's folder (e.g. 'status-submitted').
        value: what the marker holds, written as JSON.
    """
    if len(ids) == 1:
        write_json(root.task_file(ids[0], name), value)
        return
    data = json.dumps(value, default=str).encode()
    fd, shared = tempfile.mkstemp(dir=root.hipercow, prefix=".marker-")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        for task_id in ids:
            try:
                os.link(shared, root.task_file(task_id, name))
            except FileExistsError:
                write_json(root.task_file(task_id, name), value)
    finally:
        os.unlink(shared)
