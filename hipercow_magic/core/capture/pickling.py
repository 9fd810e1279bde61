"""Capturing values with cloudpickle: one pickle per name, large buffers out of band, and the
source lines of the notebook code among them (so a node's tracebacks show those lines).
"""

from __future__ import annotations

import io
import pickle
import struct
import types

import cloudpickle

from hipercow_magic.core.capture import sources
from hipercow_magic.core.errors import HipercowError
from hipercow_magic.core.format import format_bytes


def dumps(value, name: str | None = None) -> bytes:
    """Cloudpickle `value`; a failure names the variable and its type."""
    try:
        return cloudpickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL)
    except Exception as e:
        what = f"variable '{name}'" if name else "value"
        raise HipercowError(
            f"Can't send {what} (of type {type(value).__module__}.{type(value).__qualname__}) "
            f"to the cluster: it can't be pickled ({type(e).__name__}: {e})\n"
            "Create it inside the task instead, or pass something it can be rebuilt from."
        ) from None


def pickle_values(values: dict, max_size: int | None) -> tuple[dict, dict[str, int]]:
    """Pickle each captured value once (modules by name, large buffers out of band).

    Returns the packed entries (for `pack`) and the size of each value; a value over
    `max_size` bytes or one that can't be pickled is an error naming it.
    """
    entries: dict[str, tuple] = {}  # name: (kind, payload, buffers[, sources])
    sizes: dict[str, int] = {}
    for name, value in values.items():
        if isinstance(value, types.ModuleType):
            entries[name] = ("module", value.__name__, [])
            sizes[name] = 0
            continue
        buffers: list[pickle.PickleBuffer] = []
        try:
            payload, found = sources.dumps(value, protocol=5, buffer_callback=buffers.append)
        except Exception:
            dumps(value, name)  # raises the explanatory error
            raise
        raw = [b.raw() for b in buffers]
        size = len(payload) + sum(r.nbytes for r in raw)
        sizes[name] = size
        if max_size is not None and size > max_size:
            raise HipercowError(
                f"Object too large to save with task: '{name}' ({format_bytes(size)}, "
                f"{type(value).__qualname__})\n"
                f"Objects saved with a task can be at most {format_bytes(max_size)}: raise the "
                "limit with hipercow_magic.options.max_size_local = <bytes> (or the "
                "HIPERCOW_MAX_SIZE_LOCAL environment variable), or create or load the object "
                "inside the task."
            )
        entries[name] = ("value", payload, raw, found)
    return entries, sizes


SOURCES = " sources"  # the header's entry for source lines (never a variable's name)


def pack(entries: dict) -> bytes:
    """One file holding packed entries: a header (with the source lines the values need),
    then every out-of-band buffer.
    """
    head = {name: (kind, payload, len(raw)) for name, (kind, payload, raw, *_) in entries.items()}
    found = {f: lines for entry in entries.values() for f, lines in dict(*entry[3:]).items()}
    if found:
        head[SOURCES] = ("sources", found, 0)
    buffers = [r for (_, _, raw, *_) in entries.values() for r in raw]
    out = io.BytesIO()
    head_bytes = pickle.dumps(head, protocol=5)
    out.write(struct.pack("<QQ", len(head_bytes), len(buffers)))
    out.write(head_bytes)
    for raw in buffers:
        out.write(struct.pack("<Q", raw.nbytes))
        out.write(raw)
    return out.getvalue()


def buffer_spans(data: bytes, offset: int = 0) -> list[tuple[int, int]]:
    """Where the out-of-band buffers of a file made by `pack` lie: (start, end) pairs, each
    shifted by `offset` (where `data` starts in its file); [] for data not in that form.
    """
    try:
        head_len, n_buffers = struct.unpack_from("<QQ", data, 0)
        pos, spans = 16 + head_len, []
        for _ in range(n_buffers):
            (size,) = struct.unpack_from("<Q", data, pos)
            spans.append((offset + pos + 8, offset + pos + 8 + size))
            pos += 8 + size
    except struct.error:
        return []
    return spans if pos == len(data) else []


def unpack_locals(data: bytes) -> dict:
    """The values written by `pack`; modules are imported, source lines registered."""
    import importlib

    view = memoryview(data)
    head_len, n_buffers = struct.unpack_from("<QQ", view, 0)
    pos = 16
    entries = pickle.loads(view[pos : pos + head_len])
    pos += head_len
    buffers = []
    for _ in range(n_buffers):
        (size,) = struct.unpack_from("<Q", view, pos)
        pos += 8
        buffers.append(view[pos : pos + size])
        pos += size
    values = {}
    used = 0
    for name, (kind, payload, count) in entries.items():
        if kind == "sources":
            sources.register(payload)
        elif kind == "module":
            values[name] = importlib.import_module(payload)
        else:
            values[name] = pickle.loads(payload, buffers=buffers[used : used + count])
        used += count
    return values
