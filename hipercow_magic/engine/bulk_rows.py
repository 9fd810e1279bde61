"""The rows of bulk data (a list, a dict of lists, a DataFrame) and how their parameters are
shown and named.
"""

from __future__ import annotations

import inspect

from hipercow_magic.core.errors import HipercowError


def bulk_rows(data) -> list:
    """Rows of bulk data: a list, a dict of equal-length lists, or a pandas DataFrame."""
    if hasattr(data, "to_dict") and hasattr(data, "columns"):
        rows = data.to_dict(orient="records")
    elif isinstance(data, dict):
        lengths = {len(v) for v in data.values()}
        if len(lengths) > 1:
            raise HipercowError("'data' as a dict must hold lists of the same length")
        n = lengths.pop() if lengths else 0
        rows = [{k: v[i] for k, v in data.items()} for i in range(n)]
    elif isinstance(data, (list, tuple, range)):
        rows = list(data)
    else:
        raise HipercowError(
            f"'data' must be a list, a dict of lists or a pandas DataFrame, not "
            f"{type(data).__name__}"
        )
    if not rows:
        raise HipercowError("'data' must have at least one element (or row)")
    return rows


def summarise_value(value) -> str:
    """A value as displays show it: its repr when short, else '<type>'."""
    text = repr(value)
    return text if len(text) <= 40 else f"<{type(value).__name__}>"


def row_summary(row: dict) -> dict[str, str]:
    """A bundle row's parameters as displays show them: each value's short repr."""
    return {str(k): summarise_value(v) for k, v in row.items()}


def first_parameter(fn) -> str:
    """The name of a function's first parameter (what a bundle's plain elements are passed
    as), or 'value' when it can't be told.
    """
    try:
        return next(iter(inspect.signature(fn).parameters))
    except (TypeError, ValueError, StopIteration):
        return "value"
