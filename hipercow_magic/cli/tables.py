"""Tables for the terminal: coloured by state (rich) on a terminal, plain columns otherwise.

Output goes plain (columns separated by two spaces, no escape codes) when standard output is
not a terminal or NO_COLOR is set, so pipes and scripts read clean text; FORCE_COLOR draws
the coloured table into a pipe too.
"""

from __future__ import annotations

import sys

from rich.console import Console
from rich.table import Table
from rich.text import Text

from hipercow_magic.core.status import count_statuses

STATE_STYLES = {
    "created": "dim",
    "submitted": "yellow",
    "running": "bold cyan",
    "success": "green",
    "failure": "bold red",
    "cancelled": "magenta",
    "unknown": "dim",
}


class _Console(Console):
    """A rich console that leaves a closed pipe to `main`, which ends as every command does."""

    def on_broken_pipe(self) -> None:
        """The reader went away: raise, as print() would (not rich's own exit status)."""
        raise BrokenPipeError


def colour_console(stderr: bool = False) -> Console | None:
    """A rich console on standard output (or error) when it should draw in colour: it is a
    terminal (or FORCE_COLOR is set) and NO_COLOR is not; else None.
    """
    console = _Console(stderr=stderr, highlight=False, soft_wrap=False)
    return console if console.is_terminal and not console.no_color else None


def table_text(header: tuple[str, ...], rows: list[tuple[str, ...]]) -> str:
    """Rows as columns under a header, each column as wide as its widest cell."""
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip() for r in [header, *rows]]
    return "\n".join(lines)


def counts_text(statuses: list) -> Text:
    """How many tasks are in each state, coloured by state: '48 success, 2 failure'."""
    text = Text()
    for k, (status, n) in enumerate(count_statuses(statuses).items()):
        if k:
            text.append(", ")
        text.append(f"{n} {status or 'unknown'}", style=STATE_STYLES.get(status or "unknown"))
    return text


def print_table(
    header: tuple[str, ...],
    rows: list[tuple],
    state_column: str = "STATUS",
    wide: tuple[str, ...] = (),
) -> None:
    """Print rows under a header: a table with each state in its colour on a terminal, plain
    columns otherwise.

    Args:
        header: the column names.
        rows: the cells of each row: strings, or rich Text (printed plain when not colouring).
        state_column: the column holding a task's state, coloured by it.
        wide: columns that take what width is left (long text: wrapped, not cut).
    """
    console = colour_console()
    if console is None:
        print(table_text(header, [tuple(str(cell) for cell in row) for row in rows]))
        sys.stdout.flush()
        return
    table = Table(box=None, header_style="bold underline", pad_edge=False, padding=(0, 2, 0, 0))
    for name in header:
        table.add_column(
            name, overflow="fold", no_wrap=name not in wide, ratio=1 if name in wide else None
        )
    state_at = header.index(state_column) if state_column in header else None
    for row in rows:
        cells = [cell if isinstance(cell, Text) else Text(str(cell)) for cell in row]
        if state_at is not None:
            cells[state_at].stylize(STATE_STYLES.get(str(row[state_at]), ""))
        table.add_row(*cells)
    console.print(table)
