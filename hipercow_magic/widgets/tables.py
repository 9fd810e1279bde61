"""Tables: the root's tasks (`%hipercow list`) and the cluster (`%hipercow_info`)."""

from __future__ import annotations

import html
import time

from hipercow_magic.core.format import clock_time, format_minutes, pretty_dt, short_id
from hipercow_magic.widgets.style import MUTED, WARN, badge, var

TABLE = "border-collapse:collapse;font-size:12px"
CELL = f"padding:2px 8px;text-align:left;border-bottom:1px solid {var('border-color2', '#e0e0e0')}"


def _html_table(headers: list[str], rows: list[list[str]], raw_columns=()) -> str:
    head = "".join(f'<th style="{CELL}">{html.escape(h)}</th>' for h in headers)
    body = ""
    for row in rows:
        cells = "".join(
            f'<td style="{CELL}">{v if k in raw_columns else html.escape(str(v))}</td>'
            for k, v in enumerate(row)
        )
        body += f"<tr>{cells}</tr>"
    return f'<table style="{TABLE}"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>'


def _text_table(headers: list[str], rows: list[list[str]]) -> str:
    widths = [max([len(h)] + [len(str(r[k])) for r in rows]) for k, h in enumerate(headers)]
    lines = ["  ".join(h.ljust(widths[k]) for k, h in enumerate(headers)).rstrip()]
    for row in rows:
        lines.append("  ".join(str(v).ljust(widths[k]) for k, v in enumerate(row)).rstrip())
    return "\n".join(lines)


class Table:
    """A table shown as HTML in notebooks and as aligned text elsewhere."""

    def __init__(
        self,
        title: str,
        headers: list[str],
        rows: list[list[str]],
        html_rows: list[list[str]] | None = None,
        raw_columns=(),
        footer: str = "",
    ):
        self.title = title
        self.headers = headers
        self.rows = rows
        self.html_rows = html_rows or rows
        self.raw_columns = raw_columns
        self.footer = footer

    def _repr_html_(self) -> str:
        footer = f"<div style='{MUTED}'>{html.escape(self.footer)}</div>" if self.footer else ""
        return (
            f"<div class='hipercow-table'><b>{html.escape(self.title)}</b>"
            f"{_html_table(self.headers, self.html_rows, self.raw_columns)}{footer}</div>"
        )

    def __str__(self) -> str:
        parts = [self.title, _text_table(self.headers, self.rows)]
        if self.footer:
            parts.append(self.footer)
        return "\n".join(parts)

    def _repr_pretty_(self, p, cycle) -> None:
        p.text(str(self))


def _name_html(summary: dict) -> str:
    name = html.escape(summary.get("name") or "")
    if not summary.get("problem"):
        return name
    problem = html.escape(summary["problem"])
    return f"{name} <span class='hipercow-problem' style='{WARN}'>⚠ unreadable: {problem}</span>"


def task_table(summaries: list[dict], total: int, root_path: str) -> Table:
    """The root's tasks, newest first, with status and times."""
    now = time.time()
    headers = ["id", "name", "status", "created", "waited", "ran for", "resources"]
    rows, html_rows = [], []
    for s in summaries:
        created = clock_time(s.get("created"), now)
        waited = pretty_dt(s["waited"]) if s.get("waited") is not None else ""
        ran = pretty_dt(s["ran_for"]) if s.get("ran_for") is not None else ""
        name = s.get("name") or ""
        if s.get("problem"):
            name = f"{name} ! unreadable: {s['problem']}".strip()
        row = [
            short_id(s["id"]),
            name,
            s["status"] or "?",
            created,
            waited,
            ran,
            s.get("resources") or "",
        ]
        rows.append(row)
        html_rows.append(
            [
                f"<code title='{s['id']}'>{short_id(s['id'])}</code>",
                _name_html(s),
                badge(row[2]),
            ]
            + row[3:]
        )
    shown = f"{len(summaries)} of {total}" if total > len(summaries) else f"{total}"
    footer = (
        f"{shown} task{'s' if total != 1 else ''}, newest first (at {clock_time(now, now)}); "
        "show one again with %hipercow show ID"
    )
    return Table(
        f"hipercow tasks in {root_path}",
        headers,
        rows,
        html_rows,
        raw_columns=(0, 1, 2),
        footer=footer,
    )


def cluster_table(info) -> Table:
    """Nodes (cores, memory, GPUs when any node has them, queues) and the cluster's facts."""
    queues_of: dict[str, list[str]] = {}
    for q in info.queues:
        for node in q.nodes:
            queues_of.setdefault(node, []).append(q.name)
    gpus = info.max_gpus > 0
    rows = [
        [
            n.name,
            n.cores,
            "?" if n.memory is None else f"{n.memory} GB",
            *([_gpus_text(n)] if gpus else []),
            ", ".join(queues_of.get(n.name, [])),
            n.state or "",
        ]
        for n in info.nodes
    ]
    queue_text = "; ".join(
        q.name
        + (" (default)" if q.name == info.default_queue else "")
        + (f" max {format_minutes(q.max_runtime)}" if q.max_runtime else "")
        for q in info.queues
    )
    most_gpus = f", max GPUs {info.max_gpus}" if gpus else ""
    footer = (
        f"queues: {queue_text} · max cores {info.max_cores}, max memory "
        f"{info.max_memory} GB{most_gpus} · Python on the cluster: "
        f"{info.python_version or 'unknown'}"
    )
    return Table(
        f"Cluster '{info.name}' (driver '{info.driver}')",
        ["node", "cores", "memory", *(["gpus"] if gpus else []), "queues", "state"],
        rows,
        footer=footer,
    )


def _gpus_text(node) -> str:
    """A node's GPUs as the cluster table shows them: '2', '4 (a100)', '' for none."""
    if not node.gpus:
        return ""
    kinds = f" ({', '.join(node.gpu_types)})" if node.gpu_types else ""
    return f"{node.gpus}{kinds}"


def task_list_widget(table: Table, ids: list[str], root, show):
    """The task table as a widget, with a picker that shows any task again via `show` (live
    while it waits or runs, its record once it has ended).
    """
    import ipywidgets as w

    class TaskListWidget(w.VBox):
        def _repr_mimebundle_(self, **kwargs):
            data = super()._repr_mimebundle_(**kwargs)
            data["text/plain"] = str(table)
            return data

    picker = w.Dropdown(
        options=[(short_id(i), i) for i in ids], description="task", layout=w.Layout(width="auto")
    )
    button = w.Button(
        description="Show", icon="eye", layout=w.Layout(width="auto"), disabled=not ids
    )
    output = w.Output()

    def clicked(_button):
        output.clear_output()
        with output:
            show(picker.value)

    button.on_click(clicked)
    widget = TaskListWidget([w.HTML(table._repr_html_()), w.HBox([picker, button]), output])
    widget.add_class("hipercow-task-list")
    return widget
