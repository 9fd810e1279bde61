"""The HTML of a task's and a bundle's display, shared by the live widgets and the static
records a finished display becomes (what a saved notebook keeps).
"""

from __future__ import annotations

import html

from hipercow_magic.core.format import short_id
from hipercow_magic.core.tracebacks import traceback_html
from hipercow_magic.widgets.bundle_table import rows_table_html
from hipercow_magic.widgets.model import BulkModel, TaskModel
from hipercow_magic.widgets.style import (
    BAR_ORDER,
    CARD_STYLE,
    CODE,
    ERROR,
    MUTED,
    STATE_COLOURS,
    badge,
    muted,
    pre,
    problem_html,
    stacked_bar,
    state_text,
)
from hipercow_magic.widgets.text import LOG_TAIL_LINES, bulk_commands, commands, tail
from hipercow_magic.widgets.timeline import timeline_html
from hipercow_magic.widgets.usage_chart import usage_chart_html

NOTHING_SET = "<i>nothing was set in the notebook</i>"
USAGE_TITLE = "what each task used"
FAILURES_SHOWN = 10  # failures a bundle's display lists (the table has them all)


def code(text: str) -> str:
    """Inline code (HTML)."""
    return f'<code style="{CODE}">{html.escape(text)}</code>'


def task_header(model: TaskModel) -> str:
    """Badge, id and name (HTML)."""
    name = f" <i>{html.escape(model.name)}</i>" if model.name else ""
    return f"{badge(model.status)} <b>task {code(short_id(model.id))}</b>{name}"


def task_setup(model: TaskModel, now: float) -> str:
    """Driver, resources, parallel set-up (HTML)."""
    return muted(html.escape(model.setup_text(now)))


def task_timing(model: TaskModel, now: float) -> str:
    """The scheduler's view, clock times, durations and node (HTML)."""
    return html.escape(" · ".join(x for x in (model.queue_text(), model.timing_text(now)) if x))


def task_usage(model: TaskModel) -> str:
    """What the task uses while it runs, or used once it ended, in words ('' when nothing
    was measured).
    """
    return muted(html.escape(model.usage)) if model.usage else ""


def task_captured(model: TaskModel) -> str:
    """What the task took from the notebook and from other tasks ('' when nothing)."""
    parts = []
    captured = model.locals_text() if model.kind in ("expression", "explicit") else ""
    if captured:
        parts.append(f"captured: {html.escape(captured)}")
    if model.imports:
        parts.append(f"imports: {html.escape(model.imports_text())}")
    return muted(" · ".join(parts)) if parts else ""


def task_outcome(model: TaskModel) -> str:
    """The result and the names set, the error and its traceback, or how it was cancelled."""
    out = model.outcome()
    if out["kind"] == "error":
        trace = out["traceback"]
        line = f'<div style="{ERROR}"><b>error:</b> {html.escape(out["text"])}</div>'
        if trace and out["text"] in trace:  # the traceback shows the error's line first
            line = ""
        return f"{line}{traceback_html(trace) if trace else ''}{NOTHING_SET}"
    if out["kind"] == "cancelled":
        colour = STATE_COLOURS["cancelled"]
        return f'<span style="color:{colour}">{html.escape(out["text"])}</span> · {NOTHING_SET}'
    if out["kind"] != "value":
        return ""
    parts = [f"<b>result:</b> {code(out['text'])}"] if out["text"] else []
    if out["exported"]:
        parts.append("set in the notebook: " + ", ".join(code(n) for n in out["exported"]))
    elif out["exports"] and out["export"] and out["exported"] is None:
        parts.append("will set " + ", ".join(code(n) for n in out["exports"]) + " between cells")
    return "<br>".join(parts)


def next_steps(subject: str, steps: list[tuple[str, str]]) -> str:
    """The record's last line: what it is, and the lines that do more with it (HTML)."""
    items = " · ".join(f"{html.escape(what)}: {code(line)}" for what, line in steps)
    return muted(f"{subject} · {items}")


def note_html(note: str | None) -> str:
    """A display's note (e.g. that its cell reused an earlier task), as HTML; '' for none."""
    return muted(f"↻ {html.escape(note)}") if note else ""


def attempt_html(model: TaskModel) -> str:
    """Which attempt of its retry policy the task is, or why it was not retried (HTML;
    '' for a first attempt, or a task without a policy).
    """
    return muted(f"⟳ {html.escape(model.attempt)}") if model.attempt else ""


def _card(kind: str, rows: list[str]) -> str:
    body = "".join(f"<div>{row}</div>" for row in rows if row)
    return f'<div class="hipercow-record hipercow-{kind}" style="{CARD_STYLE}">{body}</div>'


def task_record_html(model: TaskModel, now: float) -> str:
    """A finished task's display as static HTML: what a saved notebook shows."""
    with model.lock:
        log = ""
        if model.log_text:
            log = (
                f'<details><summary style="{MUTED};cursor:pointer">log (last '
                f"{LOG_TAIL_LINES} lines)</summary>{pre(tail(model.log_text))}</details>"
            )
        steps = next_steps(f"task {code(short_id(model.id))}", commands(model.id, model.status))
        return _card(
            "task",
            [
                task_header(model),
                note_html(model.note),
                attempt_html(model),
                task_setup(model, now),
                task_timing(model, now),
                task_usage(model),
                task_captured(model),
                task_outcome(model),
                problem_html(model.problem),
                log,
                steps,
            ],
        )


def bulk_title(model: BulkModel) -> str:
    """The bundle's name and size (HTML)."""
    n = len(model.ids)
    return f"<b>bundle {code(model.name)}</b> · {n} task{'s' if n != 1 else ''}"


def bulk_counts(model: BulkModel) -> str:
    """How many tasks have each status, each in its status's colour, in the bar's order
    (HTML).
    """
    counts = model.counts()
    return " · ".join(state_text(s, f"{counts[s]} {s}") for s in BAR_ORDER if counts.get(s))


def bulk_bar(model: BulkModel) -> str:
    """The bar split by state, and how many tasks have finished (HTML)."""
    bar = stacked_bar(model.counts(), len(model.ids))
    return f"{bar} {model.finished()}/{len(model.ids)} finished"


def bulk_times(model: BulkModel, now: float) -> str:
    """Median and longest waits and runs, and the ETA while tasks are left (HTML)."""
    return html.escape(" · ".join(x for x in (model.summary_text(now), model.eta_text(now)) if x))


def bulk_usage(model: BulkModel) -> str:
    """What the ended tasks used of what they asked for, in one line (HTML; '' without
    figures).
    """
    words = model.usage_text()
    return muted(html.escape(words)) if words else ""


def bulk_usage_chart(model: BulkModel) -> str:
    """Each task's peak memory and average cores against its request (HTML; '' without
    figures).
    """
    found = model.usage_figures()
    return usage_chart_html(found, {f.task_id: model.label(f.task_id) for f in found})


def bulk_failures(model: BulkModel, limit: int = FAILURES_SHOWN) -> str:
    """The failed and cancelled tasks by their parameters, with their error lines (HTML
    list of at most `limit`; '' when none).
    """
    lines = model.failure_lines()
    items = "".join(f'<li style="{ERROR}">{html.escape(line)}</li>' for line in lines[:limit])
    if len(lines) > limit:
        items += f"<li>{muted(f'and {len(lines) - limit} more')}</li>"
    return f'<ul style="margin:0;padding-left:1.5em">{items}</ul>' if items else ""


def folded(summary: str, body: str, kind: str) -> str:
    """`body` under a line that opens and closes it (HTML; '' for no body)."""
    if not body:
        return ""
    return (
        f'<details class="hipercow-{kind}"><summary style="{MUTED};cursor:pointer">'
        f"{html.escape(summary)}</summary>{body}</details>"
    )


def bulk_record_html(model: BulkModel, now: float) -> str:
    """A finished bundle's display as static HTML: the bar, counts, times, failures by
    parameters, the table of its tasks and their timeline (folded), what next.
    """
    summaries = model.summaries()
    return _card(
        "bulk",
        [
            bulk_title(model),
            bulk_bar(model),
            bulk_counts(model),
            bulk_times(model, now),
            bulk_usage(model),
            bulk_failures(model),
            problem_html(model.problem),
            folded(f"tasks ({len(summaries)})", rows_table_html(summaries, now), "tasks"),
            folded("timeline", timeline_html(summaries, now), "timeline"),
            folded(USAGE_TITLE, bulk_usage_chart(model), "usage"),
            next_steps(f"bundle {code(model.name)}", bulk_commands(model)),
        ],
    )
