"""The same facts as the widgets, as plain text (terminal IPython, text/plain outputs)."""

from __future__ import annotations

import time

from hipercow_magic.widgets.model import BulkModel, TaskModel, short_id

SYMBOLS = {
    "created": "·",
    "submitted": "…",
    "running": "▶",
    "success": "✔",
    "failure": "✖",
    "cancelled": "⊘",
}
LOG_TAIL_LINES = 20


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
        lines = [f"{title}: {model.status}", f"  {model.setup_text()}"]
        queue = model.queue_text()
        if queue:
            lines.append(f"  {queue}")
        timing = model.timing_text(now)
        if timing:
            lines.append(f"  {timing}")
        if model.kind in ("expression", "explicit"):
            lines.append(f"  captured: {model.locals_text()}")
        lines += outcome_lines(model)
        if log and model.log_text:
            lines.append("  log:")
            lines += ["    " + line for line in tail(model.log_text).splitlines()]
        problem = model.problem
        if problem:
            lines.append(f"  ! {problem}")
    return "\n".join(lines)


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
        return [f"  cancelled: {out['text']}; nothing was set in the notebook"]
    if out["kind"] != "value":
        return []
    lines = [f"  result: {out['text']}"] if out["text"] else []
    if out["exported"]:
        lines.append(f"  set in the notebook: {', '.join(out['exported'])}")
    elif out["exports"] and out["export"] and out["exported"] is None:
        lines.append(f"  will set: {', '.join(out['exports'])} (between cells)")
    return lines


def bulk_text(model: BulkModel, now: float | None = None) -> str:
    """What the bundle widget shows, as lines of text."""
    now = now or time.time()
    n = len(model.ids)
    counts = model.counts()
    done = model.finished()
    lines = [
        f"hipercow bundle '{model.name}': {done}/{n} finished",
        "  " + ", ".join(f"{c} {s}" for s, c in counts.items()),
    ]
    summary = model.summary_text(now)
    if summary:
        lines.append(f"  {summary}")
    for task_id, error in model.failures():
        lines.append(f"  ✖ {short_id(task_id)}: {error or model.statuses[task_id]}")
    if model.problem:
        lines.append(f"  ! {model.problem}")
    return "\n".join(lines)
