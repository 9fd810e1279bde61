"""The same facts as the widgets, as plain text (terminal IPython, text/plain outputs)."""

from __future__ import annotations

import time

from hipercow_magic.core.format import short_id
from hipercow_magic.widgets.model import BulkModel, TaskModel, failure_line

SYMBOLS = {
    "created": "·",
    "submitted": "…",
    "running": "▶",
    "success": "✔",
    "failure": "✖",
    "cancelled": "⊘",
}
LOG_TAIL_LINES = 20
FAILURES_LISTED = 20  # failed tasks a bundle's text lists


def tail(text: str, lines: int = LOG_TAIL_LINES) -> str:
    """The last `lines` lines of `text`."""
    return "\n".join(text.rstrip("\n").splitlines()[-lines:])


def task_text(model: TaskModel, now: float | None = None, log: bool = False) -> str:
    """What the task widget shows, as lines of text (with the log's tail if `log`)."""
    now = now or time.time()
    with model.lock:
        title = f"{SYMBOLS.get(model.status, '?')} hipercow task {short_id(model.id)}"
        if model.name:
            title += f" '{model.name}'"
        lines = [f"{title}: {model.status}"]
        if model.note:
            lines.append(f"  {model.note}")
        if model.attempt:
            lines.append(f"  {model.attempt}")
        lines.append(f"  {model.setup_text(now)}")
        queue = model.queue_text()
        if queue:
            lines.append(f"  {queue}")
        timing = model.timing_text(now)
        if timing:
            lines.append(f"  {timing}")
        if model.usage:
            lines.append(f"  {model.usage}")
        captured = model.locals_text()
        if captured:
            lines.append(f"  captured: {captured}")
        if model.imports:
            lines.append(f"  imports: {model.imports_text()}")
        lines += outcome_lines(model)
        if log and model.log_text:
            lines.append(f"  log (last {LOG_TAIL_LINES} lines):")
            lines += ["    " + line for line in tail(model.log_text).splitlines()]
        problem = model.problem
        if problem:
            lines.append(f"  ! {problem}")
    return "\n".join(lines)


def commands(task_id: str, status: str) -> list[tuple[str, str]]:
    """What a finished task's record offers to do next: (what, the magic line) pairs."""
    short = short_id(task_id)
    out = [("show again", f"%hipercow show {short}"), ("full log", f"%hipercow log {short}")]
    if status in ("failure", "cancelled"):
        out.append(("retry", f"%hipercow retry {short}"))
    return out


def task_record_text(model: TaskModel, now: float | None = None) -> str:
    """A finished task as it stays in a saved notebook: the text, the log's tail, what next."""
    body = task_text(model, now, log=True)
    then = " · ".join(f"{what}: {line}" for what, line in commands(model.id, model.status))
    return f"{body}\n  task {short_id(model.id)} · {then}"


def outcome_lines(model: TaskModel) -> list[str]:
    """The task's result or error, and which variables were set, as indented lines."""
    out = model.outcome()
    if out["kind"] == "error":
        lines = [f"  error: {out['text']}"]
        if out["traceback"]:
            lines += ["    " + line for line in out["traceback"].rstrip().splitlines()]
        lines.append("  nothing was set in the notebook")
        return lines
    if out["kind"] == "cancelled":
        return [f"  {out['text']}; nothing was set in the notebook"]
    if out["kind"] != "value":
        return []
    lines = [f"  result: {out['text']}"] if out["text"] else []
    if out["exported"]:
        lines.append(f"  set in the notebook: {', '.join(out['exported'])}")
    elif out["exports"] and out["export"] and out["exported"] is None:
        lines.append(f"  will set: {', '.join(out['exports'])} (between cells)")
    return lines


def bulk_text(model: BulkModel, now: float | None = None) -> str:
    """What the bundle widget shows, as lines of text: counts, times and ETA, and the
    failed and cancelled tasks by their parameters (at most FAILURES_LISTED).
    """
    now = now or time.time()
    n = len(model.ids)
    counts = model.counts()
    done = model.finished()
    lines = [
        f"hipercow bundle '{model.name}': {done}/{n} finished",
        "  " + ", ".join(f"{c} {s}" for s, c in counts.items()),
    ]
    lines += [
        f"  {x}" for x in (model.summary_text(now), model.eta_text(now), model.usage_text()) if x
    ]
    failures = model.failed()
    for r in failures[:FAILURES_LISTED]:
        lines.append(f"  {SYMBOLS[r['status']]} {failure_line(r)} (task {short_id(r['id'])})")
    if len(failures) > FAILURES_LISTED:
        lines.append(f"  and {len(failures) - FAILURES_LISTED} more failed or cancelled")
    if model.problem:
        lines.append(f"  ! {model.problem}")
    return "\n".join(lines)


def bulk_commands(model: BulkModel) -> list[tuple[str, str]]:
    """What a finished bundle's record offers to do next: (what, the line) pairs."""
    out = [("show again", f"%hipercow show {model.name}")]
    if model.failures():
        out.append(("retry the failed", f"hipercow_magic.hipercow_bundle_retry('{model.name}')"))
    return out


def bulk_record_text(model: BulkModel, now: float | None = None) -> str:
    """A finished bundle as it stays in a saved notebook, with what to do next."""
    then = " · ".join(f"{what}: {line}" for what, line in bulk_commands(model))
    return f"{bulk_text(model, now)}\n  bundle {model.name} · {then}"
