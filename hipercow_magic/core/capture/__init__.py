"""Capturing a task's inputs: what a piece of code reads and assigns (analysis), and the values
themselves, pickled one name at a time (pickling), with the source lines of notebook code
(sources); and fingerprints of all of them, for reusing a task whose inputs are unchanged
(fingerprint, with the modules code imports found without running it: imports).

Each name is imported from its module when first used, so a node that only reads a task's
inputs loads neither the code analysis nor the fingerprints.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from hipercow_magic.core.capture.analysis import CodeAnalysis, analyse_code, parse_code
    from hipercow_magic.core.capture.fingerprint import Fingerprint, code_digest, digest
    from hipercow_magic.core.capture.pickling import (
        buffer_spans,
        dumps,
        pack,
        pickle_values,
        unpack_locals,
    )
    from hipercow_magic.core.capture.sources import (
        dumps_with_sources,
        loads_with_sources,
        register_code,
    )

_MODULES = {
    "analysis": ("CodeAnalysis", "analyse_code", "parse_code"),
    "fingerprint": ("Fingerprint", "code_digest", "digest"),
    "pickling": ("buffer_spans", "dumps", "pack", "pickle_values", "unpack_locals"),
    "sources": ("dumps_with_sources", "loads_with_sources", "register_code"),
}
_WHERE = {name: module for module, names in _MODULES.items() for name in names}

__all__ = [
    "CodeAnalysis",
    "Fingerprint",
    "analyse_code",
    "code_digest",
    "digest",
    "dumps",
    "dumps_with_sources",
    "loads_with_sources",
    "buffer_spans",
    "pack",
    "parse_code",
    "pickle_values",
    "register_code",
    "unpack_locals",
]


def __getattr__(name: str):
    """A public name, imported from its module on first use (then kept here)."""
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(import_module(f"{__name__}.{module}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    """The public names, loaded or not."""
    return sorted({*globals(), *__all__})
