"""Atomic file writes and small readers used for everything on disk."""

from __future__ import annotations

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
    write_bytes(path, json.dumps(value, indent=1, default=str).encode())


def read_json(path: str) -> Any:
    with open(path, "rb") as f:
        return json.loads(f.read())


def read_json_or(path: str, default: Any = None) -> Any:
    try:
        return read_json(path)
    except FileNotFoundError:
        return default


def read_text_or(path: str, default: str | None = None) -> str | None:
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            return f.read()
    except FileNotFoundError:
        return default


def create_exclusive(path: str, text: str = "") -> bool:
    """Create `path` with `text` only if it does not exist; True if this call created it."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
    except FileExistsError:
        return False
    with os.fdopen(fd, "w") as f:
        f.write(text)
    return True
