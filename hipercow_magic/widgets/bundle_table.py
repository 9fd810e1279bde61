"""A bundle's tasks as a table, one row each by its parameters: state, node, waited, ran for,
and the error (or why it waits). `rows_table_html` is the static table a record keeps;
`BundleTable` the live one, a page at a time, filtered by state, with Log, Cancel and Retry
on each row.
"""

from __future__ import annotations

import html
import math
import time

import ipywidgets as w

from hipercow_magic import api
from hipercow_magic.core.errors import HipercowError, error_line
from hipercow_magic.core.format import pretty_dt, short_id
from hipercow_magic.core.status import ACTIVE, STATUSES
from hipercow_magic.widgets.model import BulkModel, detail_text, durations, row_label
from hipercow_magic.widgets.style import ERROR, MUTED, badge, muted, pre, state_text
from hipercow_magic.widgets.text import LOG_TAIL_LINES, tail

COLUMNS = ("parameters", "state", "node", "waited", "ran for", "error or reason")
PAGE_SIZE = 20  # rows of the live table
RECORD_ROWS = 200  # rows of a record's table (failures first)
GRID_COLUMNS = "minmax(8em, 2fr) auto auto auto auto minmax(10em, 3fr) auto"
CELL = {"margin": "0", "min_height": "0", "overflow": "hidden"}
SMALL = {"width": "auto", "height": "22px", "padding": "0 6px", "margin": "1px 2px"}
TD = "padding:1px 10px 1px 0;vertical-align:top;text-align:left"


def task_cells(summary: dict, now: float, badges: bool = True) -> list[str]:
    """The HTML of a task's cells, one per column of COLUMNS; the state as a badge, or
    without `badges` as a word in its colour (a record's long table stays light).
    """
    waited, ran = durations(summary, now)
    status = summary["status"] or "unknown"
    detail = detail_text(summary)
    if summary["status"] in ("failure", "cancelled"):
        detail_html = f'<span style="{ERROR}">{html.escape(detail)}</span>'
    else:
        detail_html = muted(html.escape(detail))
    return [
        html.escape(row_label(summary)),
        badge(status) if badges else state_text(status, status),
        html.escape(summary.get("node") or ""),
        pretty_dt(waited) if waited is not None else "",
        pretty_dt(ran) if ran is not None else "",
        detail_html,
    ]


def rows_table_html(summaries: list[dict], now: float, limit: int = RECORD_ROWS) -> str:
    """The tasks as a static table (HTML), failed and cancelled ones first; at most `limit`
    rows, then a line saying how many more there are ('' for no tasks).
    """
    if not summaries:
        return ""
    bad = [r for r in summaries if r["status"] in ("failure", "cancelled")]
    ordered = bad + [r for r in summaries if r["status"] not in ("failure", "cancelled")]
    head = "".join(f'<th style="{TD};{MUTED};font-weight:normal">{c}</th>' for c in COLUMNS)
    body = "".join(
        "<tr>"
        + "".join(f'<td style="{TD}">{cell}</td>' for cell in task_cells(r, now, False))
        + "</tr>"
        for r in ordered[:limit]
    )
    more = len(ordered) - limit
    rest = muted(f"and {more} more") if more > 0 else ""
    return (
        '<div style="max-height:420px;overflow:auto">'
        f'<table class="hipercow-bundle-table" style="border-collapse:collapse;font-size:12px">'
        f"<thead><tr>{head}</tr></thead><tbody>{body}</tbody></table></div>{rest}"
    )


class _Slot:
    """One row of the live table: its cells and buttons, showing whichever task it is given."""

    def __init__(self, table: BundleTable):
        self.task_id: str | None = None
        self.cells = [w.HTML(layout=CELL) for _ in COLUMNS]
        self.log = w.Button(description="Log", tooltip="show this task's log", layout=SMALL)
        self.cancel = w.Button(description="Cancel", tooltip="cancel this task", layout=SMALL)
        self.retry = w.Button(description="Retry", tooltip="run this task again", layout=SMALL)
        self.log.on_click(lambda _b: table.show_log(self.task_id))
        self.cancel.on_click(lambda _b: table.cancel(self.task_id))
        self.retry.on_click(lambda _b: table.retry(self.task_id))
        self.buttons = w.HBox([self.log, self.cancel, self.retry], layout=CELL)
        self.shown: dict = {}

    def _set(self, widget, name: str, value) -> None:
        key = (id(widget), name)
        if self.shown.get(key) != value:
            self.shown[key] = value
            setattr(widget, name, value)

    def show(self, summary: dict | None, now: float) -> None:
        """Show `summary`'s task in this row (None: hide the row)."""
        self.task_id = summary["id"] if summary else None
        for cell in [*self.cells, self.buttons]:
            self._set(cell.layout, "display", None if summary else "none")
        if summary is None:
            return
        for cell, value in zip(self.cells, task_cells(summary, now)):
            self._set(cell, "value", value)
        status = summary["status"]
        self._set(self.log, "disabled", status in ("created", None))
        self._set(self.cancel, "disabled", status not in ACTIVE)
        self._set(self.retry, "disabled", status not in ("failure", "cancelled"))


class BundleTable(w.VBox):
    """The live table of a bundle's tasks: PAGE_SIZE rows a page (Prev, Next), a filter by
    state, per-row Log, Cancel and Retry; `acted(message)` hears what a button did.
    """

    def __init__(self, model: BulkModel, acted):
        self.model = model
        self.acted = acted
        self.page = 0
        self.filter = w.Dropdown(
            options=[("all", "")],
            value="",
            description="show",
            style={"description_width": "initial"},
            layout={"width": "auto"},
        )
        self.prev = w.Button(description="Prev", icon="chevron-left", layout=SMALL)
        self.next = w.Button(description="Next", icon="chevron-right", layout=SMALL)
        self.position = w.HTML(layout=CELL)
        self._choosing = False  # the filter's options are being replaced, not chosen
        self.filter.observe(self._filtered, names="value")
        self.prev.on_click(lambda _b: self._turn(-1))
        self.next.on_click(lambda _b: self._turn(1))
        header = [w.HTML(muted(c), layout=CELL) for c in COLUMNS] + [w.HTML(layout=CELL)]
        self.slots = [_Slot(self) for _ in range(PAGE_SIZE)]
        cells = [cell for slot in self.slots for cell in [*slot.cells, slot.buttons]]
        self.grid = w.GridBox(
            header + cells,
            layout={"grid_template_columns": GRID_COLUMNS, "grid_gap": "0 10px"},
        )
        self.log_id: str | None = None
        self.log_title = w.HTML(layout=CELL)
        self.log_text = w.HTML(layout=CELL)
        close = w.Button(description="Close log", icon="times", layout=SMALL)
        close.on_click(lambda _b: self.show_log(None))
        self.log_box = w.VBox(
            [w.HBox([self.log_title, close]), self.log_text], layout={"display": "none"}
        )
        paging = w.HBox([self.filter, self.prev, self.next, self.position])
        super().__init__([paging, self.grid, self.log_box])
        self.add_class("hipercow-bundle-table")

    def _filtered(self, _change) -> None:
        if not self._choosing:
            self.page = 0
            self.refresh(None)

    def _turn(self, pages: int) -> None:
        self.page = max(0, self.page + pages)
        self.refresh(None)

    def refresh(self, now: float | None) -> None:
        """Show the current page of the tasks that pass the filter, as they are now."""
        now = now or time.time()
        counts = self.model.counts()
        wanted = self.filter.value
        options = [(f"all ({len(self.model.ids)})", "")] + [
            (f"{s} ({counts.get(s, 0)})", s) for s in STATUSES if counts.get(s) or s == wanted
        ]
        if list(self.filter.options) != options:
            self._choosing = True
            try:
                self.filter.options = options
                self.filter.value = wanted
            finally:
                self._choosing = False
        rows = self.model.summaries(wanted or None)
        pages = max(1, math.ceil(len(rows) / PAGE_SIZE))
        self.page = min(self.page, pages - 1)
        page = rows[self.page * PAGE_SIZE : (self.page + 1) * PAGE_SIZE]
        with self.model.lock:
            self.model.shown = {r["id"] for r in page}
        for i, slot in enumerate(self.slots):
            slot.show(page[i] if i < len(page) else None, now)
        first = self.page * PAGE_SIZE + 1 if rows else 0
        self.position.value = muted(
            f"rows {first}–{self.page * PAGE_SIZE + len(page)} of {len(rows)}"
            + (f" · page {self.page + 1} of {pages}" if pages > 1 else "")
        )
        self.prev.disabled = self.page == 0
        self.next.disabled = self.page >= pages - 1
        if self.log_id in self.model.statuses and self.model.statuses[self.log_id] == "running":
            self.show_log(self.log_id)  # a running task's log grows

    # ---- the buttons ----------------------------------------------------------------
    def show_log(self, task_id: str | None) -> None:
        """Show the tail of a task's log under the table (None: hide it)."""
        self.log_id = task_id
        if task_id is None:
            self.log_box.layout.display = "none"
            return
        text = api.task_log_value(task_id, follow=False, root=self.model.root)
        what = f"log of {self.model.label(task_id)} (task {short_id(task_id)})"
        self.log_title.value = f"<b>{html.escape(what)}</b>" + muted(
            f", last {LOG_TAIL_LINES} lines" if text else ": nothing written yet"
        )
        self.log_text.value = pre(tail(text)) if text else ""
        self.log_box.layout.display = None

    def cancel(self, task_id: str | None) -> None:
        """Cancel one task of the bundle."""
        if task_id is None:
            return
        label = self.model.label(task_id)
        try:
            done = self.model.cancel([task_id])[0]
        except HipercowError as e:
            self.acted(f"can't cancel {label}: {error_line(e)}")
            return
        self.acted(f"cancelled {label}" if done else f"{label} could not be cancelled")

    def retry(self, task_id: str | None) -> None:
        """Retry one failed or cancelled task; its row follows the new task."""
        if task_id is None:
            return
        label = self.model.label(task_id)
        try:
            self.model.retry([task_id])
        except HipercowError as e:
            self.acted(f"can't retry {label}: {error_line(e)}")
            return
        self.acted(f"retrying {label}")
