"""Rows of parameters from a file, for `hipercow bundle create`: a CSV file with a header, or
a JSON list of objects (or an object of equal-length lists). A mistake is an error naming the
file and the line, before any task is made.
"""

from __future__ import annotations

import csv
import json
import os

from hipercow_magic.core.errors import HipercowError

_KINDS = (".csv", ".json")


def read_rows(path: str) -> list[dict]:
    """The rows of a CSV or JSON file, each a dict of one task's parameters.

    CSV cells that read as a whole number become ints, then floats, then stay strings; JSON
    values are kept as they are. Every row has the same names.

    Args:
        path: a `.csv` or `.json` file.

    Returns:
        The rows, in the file's order (at least one).

    Raises:
        HipercowError: the file is missing, empty, of another kind, or malformed; a row's
            names differ from the first's (the message names the line).
    """
    kind = os.path.splitext(path)[1].lower()
    if kind not in _KINDS:
        raise HipercowError(f"'{path}' is not a .csv or .json file of rows")
    try:
        with open(path, encoding="utf-8", newline="") as f:
            text = f.read()
    except FileNotFoundError:
        raise HipercowError(f"No file '{path}' (give a .csv or .json file of rows)") from None
    except (OSError, UnicodeDecodeError) as e:
        raise HipercowError(f"Can't read '{path}': {e}") from None
    if not text.strip():
        raise HipercowError(f"'{path}' is empty: it needs a row of names and a row per task")
    rows = _csv_rows(path, text) if kind == ".csv" else _json_rows(path, text)
    if not rows:
        raise HipercowError(f"'{path}' has no rows: add one per task")
    return rows


def _csv_rows(path: str, text: str) -> list[dict]:
    reader = csv.reader(text.splitlines())
    header, start = None, 0
    for number, cells in enumerate(reader, 1):
        if any(c.strip() for c in cells):
            header, start = [c.strip() for c in cells], number
            break
    _check_names(path, header, start)
    rows = []
    for number, cells in enumerate(reader, start + 1):
        if not any(c.strip() for c in cells):
            continue
        if len(cells) != len(header):
            raise HipercowError(
                f"{path}, line {number}: {len(cells)} values for {len(header)} columns "
                f"({', '.join(header)})"
            )
        rows.append({name: _csv_value(cell) for name, cell in zip(header, cells)})
    return rows


def _csv_value(cell: str):
    for kind in (int, float):
        try:
            return kind(cell)
        except ValueError:
            pass
    return cell


def _check_names(path: str, names, line: int) -> None:
    for name in names:
        if not name.isidentifier():
            raise HipercowError(
                f"{path}, line {line}: '{name}' is not a Python name; each column's name "
                "becomes a variable of the code"
            )
    if len(set(names)) != len(names):
        raise HipercowError(f"{path}, line {line}: a name appears twice ({', '.join(names)})")


def _line(text: str, position: int) -> int:
    return text.count("\n", 0, position) + 1


def _json_rows(path: str, text: str) -> list[dict]:
    try:
        value = json.loads(text)
    except json.JSONDecodeError as e:
        raise HipercowError(f"{path}, line {e.lineno}: not valid JSON ({e.msg})") from None
    if isinstance(value, dict):
        return _json_columns(path, value)
    if not isinstance(value, list):
        raise HipercowError(
            f"{path}: expected a list of objects (one a task) or an object of equal-length lists"
        )
    rows, names = [], None
    for position, row in _json_elements(text):
        if not isinstance(row, dict):
            raise HipercowError(
                f"{path}, line {_line(text, position)}: a row must be an object of names and "
                f"values, not {type(row).__name__}"
            )
        if names is None:
            names = list(row)
            _check_names(path, names, _line(text, position))
        elif set(row) != set(names):
            raise HipercowError(
                f"{path}, line {_line(text, position)}: this row has names "
                f"{', '.join(row) or '(none)'}; the first row has {', '.join(names)}"
            )
        rows.append(row)
    return rows


def _json_elements(text: str):
    """Each element of the JSON list in `text` with where it starts."""
    decoder = json.JSONDecoder()
    position = text.index("[") + 1
    while True:
        while text[position] in " \t\r\n,":
            position += 1
        if text[position] == "]":
            return
        value, end = decoder.raw_decode(text, position)
        yield position, value
        position = end


def _json_columns(path: str, columns: dict) -> list[dict]:
    names = list(columns)
    _check_names(path, names, 1)
    lengths = {name: len(v) if isinstance(v, list) else None for name, v in columns.items()}
    if None in lengths.values() or len(set(lengths.values())) > 1:
        said = ", ".join(f"{n}: {k if k is not None else 'not a list'}" for n, k in lengths.items())
        raise HipercowError(f"{path}: an object of columns needs equal-length lists ({said})")
    return [dict(zip(names, values)) for values in zip(*columns.values())]
