"""A task's log one bounded page at a time: from its tail, earlier pages, or onward for
tailing; never the whole of a large log at once.
"""

from __future__ import annotations

import os

from hipercow_magic.core import remote_files
from hipercow_magic.core.errors import HipercowError
from hipercow_magic.core.root import check_task_id, find_root

LOG_PAGE_BYTES = 256 * 1024
MIN_PAGE_BYTES = 16


def _utf8_start(data: bytes) -> int:
    """Where the first whole character starts (skipping the tail of a cut one)."""
    k = 0
    while k < min(len(data), 3) and data[k] & 0xC0 == 0x80:
        k += 1
    return k


def _utf8_end(data: bytes) -> int:
    """Where a trailing cut character begins (len(data) if the last one is whole)."""
    for back in range(1, min(len(data), 4) + 1):
        byte = data[-back]
        if byte & 0xC0 == 0x80:
            continue  # a continuation byte: look further back for its lead
        if byte < 0x80:
            return len(data)
        needed = 2 if byte >> 5 == 0b110 else 3 if byte >> 4 == 0b1110 else 4
        return len(data) - back if needed > back else len(data)
    return len(data)


def task_log_page(
    task_id,
    offset: int | None = None,
    before: int | None = None,
    limit: int = LOG_PAGE_BYTES,
    root=None,
) -> dict:
    """One page of a task's log, at most `limit` bytes.

    Args:
        task_id: the task's id, or a Task handle.
        offset: read onward from this byte (for tailing: the previous page's `end`).
        before: read the page that ends at this byte (for scrolling back: a page's `start`).
            With neither, the page is the log's tail.
        limit: the most bytes a page holds.
        root: the hipercow root (default: found from the working directory).

    Returns:
        A dict: `text` (None when there is no log yet), `start` and `end` (the bytes the page
        covers; a page read from the tail or backwards starts at a line where it can), and
        `size` (the log's size as read).

    Raises:
        HipercowError: both `offset` and `before` given, a too-small `limit`, or an offset
            outside the log.
    """
    root = find_root(root)
    task_id = check_task_id(task_id)
    if offset is not None and before is not None:
        raise HipercowError("Give 'offset' (read onward) or 'before' (read back), not both")
    if limit < MIN_PAGE_BYTES:
        raise HipercowError(f"'limit' must be at least {MIN_PAGE_BYTES} bytes, not {limit}")
    remote_files.ensure(root, task_id, "log", grow=True)
    try:
        f = open(root.task_file(task_id, "log"), "rb")
    except FileNotFoundError:
        f = None
    size = 0 if f is None else os.fstat(f.fileno()).st_size
    for name, value in (("offset", offset), ("before", before)):
        if value is not None and not 0 <= value <= size:
            if f is not None:
                f.close()
            raise HipercowError(f"'{name}' must lie within the log, 0 to {size} bytes, not {value}")
    if f is None:
        return {"text": None, "start": 0, "end": 0, "size": 0}
    with f:
        if offset is not None:
            start, stop = offset, min(size, offset + limit)
        else:
            stop = size if before is None else before
            start = max(0, stop - limit)
        f.seek(start)
        data = f.read(stop - start)
    skip = 0
    if offset is None and start > 0:  # cut from above: begin at a line, or a character
        newline = data.find(b"\n")
        skip = newline + 1 if 0 <= newline < len(data) - 1 else _utf8_start(data)
    cut = _utf8_end(data)
    if cut <= skip:  # a page too small for one character: send it as it is
        cut = len(data)
    text = data[skip:cut].decode("utf-8", errors="replace")
    return {"text": text, "start": start + skip, "end": start + cut, "size": size}
