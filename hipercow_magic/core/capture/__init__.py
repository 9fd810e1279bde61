"""Capturing a task's inputs: what a piece of code reads and assigns (analysis), and the values
themselves, pickled one name at a time (pickling), with the source lines of notebook code
(sources); and fingerprints of all of them, for reusing a task whose inputs are unchanged
(fingerprint, with the modules code imports found without running it: imports).
"""

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
