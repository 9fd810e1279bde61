"""Capturing a task's inputs: what a piece of code reads and assigns (analysis), and the values
themselves, pickled one name at a time (pickling).
"""

from hipercow_magic.core.capture.analysis import CodeAnalysis, analyse_code, parse_code
from hipercow_magic.core.capture.pickling import dumps, pack, pickle_values, unpack_locals

__all__ = [
    "CodeAnalysis",
    "analyse_code",
    "dumps",
    "pack",
    "parse_code",
    "pickle_values",
    "unpack_locals",
]
