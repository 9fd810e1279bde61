"""The source lines of code defined in a notebook, shipped with it so tracebacks show them.

Functions and classes defined in a notebook cell are pickled by value; their code says which
cell they came from (`co_filename`, e.g. `/tmp/ipykernel_123/456.py`), but the cell's text
lives only in this process's `linecache`. Pickling with `Pickler` keeps each code object's
filename and notes it; `sources` then gives the lines of those held only in memory, which the
receiving process registers in its own `linecache` (`register`).
"""

from __future__ import annotations

import io
import linecache
import marshal
import pickle
import types

import cloudpickle


class Pickler(cloudpickle.Pickler):
    """A cloudpickle pickler that keeps the filenames of the code it pickles by value.

    cloudpickle writes `<dynamic-code>` for them; this one writes each code object whole
    (with `marshal`, which keeps its filename and line numbers) and collects the filenames
    in `filenames`.
    """

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.filenames: set[str] = set()

    def reducer_override(self, obj):
        """Code objects whole (their filename noted); everything else as cloudpickle does."""
        if type(obj) is types.CodeType:
            self.filenames.add(obj.co_filename)
            return marshal.loads, (marshal.dumps(obj),)
        return super().reducer_override(obj)


def dumps(value, protocol: int = pickle.HIGHEST_PROTOCOL, buffer_callback=None):
    """Cloudpickle `value`, keeping code filenames; returns (bytes, the sources it needs)."""
    out = io.BytesIO()
    pickler = Pickler(out, protocol=protocol, buffer_callback=buffer_callback)
    pickler.dump(value)
    return out.getvalue(), sources(pickler.filenames)


def sources(filenames) -> dict[str, list[str]]:
    """The lines of each of `filenames` that exist only in memory (notebook cells, a task's
    code), as `linecache` holds them; files on disk and unknown names are left out.
    """
    out = {}
    for filename in filenames:
        entry = linecache.cache.get(filename)
        if entry is not None and len(entry) == 4 and entry[1] is None and entry[2]:
            out[filename] = list(entry[2])
    return out


def register(found: dict[str, list[str]]) -> None:
    """Make `linecache` (so tracebacks) show these lines for these filenames."""
    for filename, lines in found.items():
        linecache.cache[filename] = (sum(map(len, lines)), None, lines, filename)


def register_code(filename: str, code: str, first_line: int = 1) -> str:
    """Register `code` under `filename` as if its first line were line `first_line`;
    returns the text to compile (blank lines first), so line numbers match.
    """
    text = "\n" * (first_line - 1) + code
    register({filename: text.splitlines(True)})
    return text


def dumps_with_sources(value) -> bytes:
    """`value` pickled with the sources of the notebook code in it, for `loads_with_sources`."""
    payload, found = dumps(value)
    return payload + pickle.dumps(found, protocol=pickle.HIGHEST_PROTOCOL)


def loads_with_sources(data: bytes):
    """The value written by `dumps_with_sources`, with its sources registered in `linecache`."""
    stream = io.BytesIO(data)
    value = pickle.load(stream)
    register(pickle.load(stream))
    return value
