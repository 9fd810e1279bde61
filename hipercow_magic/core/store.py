"""File writes and small readers used for everything on disk.

Every write is atomic: a temporary file in the same folder, then a rename (or, for a file
that must not be overwritten, a hard link), so a reader sees a file whole or not at all.
Every file gets one mode, 0o666 less the umask, so a group can share a root. A
PermissionError on a root file becomes a HipercowError that names the file.
"""

from __future__ import annotations

import contextlib
import errno
import itertools
import json
import os
import threading
from typing import Any

from hipercow_magic.core.errors import HipercowError

_umask: int | None = None
_umask_lock = threading.Lock()


def file_mode() -> int:
    """The mode new files get: 0o666 less the process's umask (read once, under a lock)."""
    global _umask
    if _umask is None:
        with _umask_lock:
            if _umask is None:
                _umask = _read_umask()
    return 0o666 & ~_umask


def _read_umask() -> int:
    """The umask, read without changing it where Linux says it (/proc/self/status);
    elsewhere set and restored at once.
    """
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    current = os.umask(0o022)
    os.umask(current)
    return current


def permission_error(path: str, action: str) -> HipercowError:
    """The HipercowError for a root file this user may not read or write."""
    return HipercowError(
        f"Permission denied {action} '{path}'\n"
        "Ask the root's owner to give your group access (files follow the umask, so a "
        "shared root needs umask 002 or 007), or use a root of your own."
    )


def path_too_long(path: str) -> HipercowError:
    """The HipercowError for a path longer than the filesystem allows."""
    return HipercowError(
        f"The path '{path}' is too long for this filesystem (File name too long)\n"
        "Use a root with a shorter path."
    )


@contextlib.contextmanager
def _guard(path: str, action: str):
    try:
        yield
    except PermissionError:
        raise permission_error(path, action) from None
    except OSError as e:
        if e.errno == errno.ENAMETOOLONG:
            raise path_too_long(path) from None
        raise


def write_temp(folder: str, data: bytes, prefix: str = ".tmp-", target: str | None = None) -> str:
    """A temporary file in `folder` holding `data` with the root's mode; returns its path
    (the caller renames or removes it). `target`, the file it will become, is what a
    permission error names (else the folder).
    """
    with _guard(target, "writing") if target else _guard(folder, "writing in"):
        fd, tmp = _open_temp(folder, prefix)
    try:
        with memoryview(data) as view:
            written = 0
            while written < len(view):
                written += os.write(fd, view[written:])
    except BaseException:
        os.close(fd)
        remove_file(tmp)
        raise
    try:
        os.close(fd)
    except BaseException:
        remove_file(tmp)
        raise
    return tmp


_temp_names = itertools.count()


def _open_temp(folder: str, prefix: str) -> tuple[int, str]:
    """A new file, opened for writing, named `prefix`, this process's id and a count (a
    name some other process took is passed over); its mode is the root's (the umask applies
    to the mode `open` is given, as `file_mode` expects).
    """
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC
    while True:
        path = f"{folder}{os.sep}{prefix}{os.getpid()}-{next(_temp_names)}"
        try:
            return os.open(path, flags, file_mode()), path
        except FileExistsError:
            continue


def write_bytes(path: str, data: bytes, mtime: float | None = None) -> None:
    """Write `data` to `path` atomically (temporary file in the same folder, then rename);
    with `mtime` (epoch seconds), the file's modification time is that, to the nanosecond.
    """
    with _guard(path, "writing"):
        tmp = write_temp(os.path.dirname(path), data, target=path)
        try:
            if mtime is not None:
                stamp = int(mtime * 1e9)
                os.utime(tmp, ns=(stamp, stamp))
            os.replace(tmp, path)
        except BaseException:
            remove_file(tmp)
            raise


def write_text(path: str, text: str) -> None:
    """Write `text` to `path` atomically."""
    write_bytes(path, text.encode())


def write_json(path: str, value: Any) -> None:
    """Write `value` as JSON to `path` atomically."""
    write_bytes(path, json.dumps(value, default=str).encode())


def write_plain(path: str, data: bytes) -> None:
    """Write `data` to `path` (atomically too, now: kept for the callers that use it)."""
    write_bytes(path, data)


def read_bytes(path: str) -> bytes:
    """The bytes of the file at `path` (FileNotFoundError if missing; a PermissionError
    becomes a HipercowError naming the file).
    """
    with _guard(path, "reading"), open(path, "rb") as f:
        return f.read()


def read_json(path: str) -> Any:
    """The JSON value in the file at `path` (errors if it is missing or not JSON)."""
    return json.loads(read_bytes(path))


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
        return read_bytes(path).decode("utf-8", errors="replace")
    except FileNotFoundError:
        return default


def remove_file(path: str) -> None:
    """Delete a file; no error if it is already gone."""
    with contextlib.suppress(FileNotFoundError):
        os.unlink(path)


def link_exclusive(path: str, data: bytes) -> bool:
    """Create `path` holding `data`, whole, only if it does not exist (a temporary file
    hard-linked into place); True if this call created it.
    """
    with _guard(path, "writing"):
        tmp = write_temp(os.path.dirname(path), data, target=path)
        try:
            os.link(tmp, path)
        except FileExistsError:
            return False
        finally:
            remove_file(tmp)
    return True


def create_exclusive(path: str, text: str = "") -> bool:
    """Create `path` with `text` only if it does not exist; True if this call created it.
    Nobody ever sees the file empty or part-written.
    """
    return link_exclusive(path, text.encode())


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
    with _guard(root.hipercow, "writing in"):
        shared = write_temp(root.hipercow, data, prefix=".marker-")
    try:
        for task_id in ids:
            try:
                os.link(shared, root.task_file(task_id, name))
            except FileExistsError:
                write_json(root.task_file(task_id, name), value)
            except PermissionError:
                raise permission_error(root.task_file(task_id, name), "writing") from None
    finally:
        remove_file(shared)
