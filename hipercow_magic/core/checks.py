"""Small validators of user input shared by records, drivers and front ends."""

from __future__ import annotations

from hipercow_magic.core.errors import HipercowError


def string_list(value, what: str) -> list[str] | None:
    """A string or a list of strings as a list (None for None or an empty list)."""
    if value is None:
        return None
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, (list, tuple)) or not all(isinstance(v, str) for v in value):
        raise HipercowError(f"'{what}' must be a string or a list of strings")
    return list(value) or None


def positive_int(value, name: str) -> int:
    """`value` as an int if it is a positive whole number (an int, or a float like 2.0)."""
    ok = (
        isinstance(value, int)
        and not isinstance(value, bool)
        or (isinstance(value, float) and value.is_integer())
    )
    if not ok or value < 1:
        raise HipercowError(f"'{name}' must be a positive integer, not {value}")
    return int(value)
