"""One row per task for lists, panels and widgets: `task_summaries`, and what its rows say
beyond the status: where the task runs, its scheduler's job id, why it waits (in words),
the one line its failure ended with, and the parameters of its bundle row.
"""

from __future__ import annotations

import time

from hipercow_magic.core.errors import error_line
from hipercow_magic.core.reasons import pending_words
from hipercow_magic.core.resources import Resources
from hipercow_magic.core.results import read_result_record
from hipercow_magic.core.root import find_root, task_ids
from hipercow_magic.core.status import ACTIVE
from hipercow_magic.core.task import ran_on, read_marker
from hipercow_magic.drivers.registry import load_driver
from hipercow_magic.engine.dependencies import waiting_for, waiting_text
from hipercow_magic.engine.listing import read_task_data, task_times_or_none
from hipercow_magic.engine.statuses import task_statuses


def queue_details(root, ids: list[str], statuses: list[str | None]) -> dict[str, dict]:
    """What the schedulers say of the queued and running tasks among `ids` (job id, why
    one waits): one call per driver for all of its tasks, answered from what its last status
    query saw. A driver that can't be asked gives nothing; the rows still come.
    """
    by_driver: dict[str, list[str]] = {}
    for task_id, status in zip(ids, statuses):
        if status in ACTIVE:
            name = read_marker(root, task_id, "submitted").get("driver")
            if name:
                by_driver.setdefault(name, []).append(task_id)
    details: dict[str, dict] = {}
    for name, group in by_driver.items():
        try:
            details.update(load_driver(root, name).queue_details(group) or {})
        except Exception:  # a display is no place to stop for a driver that can't tell
            continue
    return details


def pending_text(details: dict) -> tuple[str | None, str | None]:
    """(why a queued task waits, what to do about it) from its queue details."""
    if details.get("reason_words"):
        return details["reason_words"], None
    if details.get("reason"):
        return pending_words(details["reason"])
    return None, None


def failure_line(root, task_id: str) -> str:
    """The one line a failed task ended with: its exception's type and message, else the
    reason its failure was recorded with.
    """
    try:
        error = read_result_record(root, task_id).get("error")
    except Exception:  # no result (the process died) or one that can't be read here
        error = None
    if isinstance(error, BaseException):
        if type(error).__name__ == "TaskFailed":
            return " ".join(str(error).split())
        return error_line(error)
    reason = read_marker(root, task_id, "failure").get("reason")
    return " ".join(str(reason).split()) if reason else "failed (no error was recorded)"


def row_fields(root, data: dict) -> dict:
    """The bundle row's parameters of a task (a retry has its original's) and, for a call
    task, the arguments it was called with (what a display shows lacking a row).
    """
    if data.get("type") == "retry" and data.get("base"):
        base, _ = read_task_data(root, data["base"])
        data = base or data
    return {"row": data.get("row"), "args": data.get("args")}


def task_summaries(ids, root=None) -> list[dict]:
    """One row per task for lists and panels (the same rows every front end shows).

    Args:
        ids: a task id or Task handle, a list of them, or a Bundle.
        root: the hipercow root (default: found from the working directory).

    Returns:
        One dict per task: id, name, type, status, driver, resources (one line), the times of
        task_times(), waited (seconds from creation to start, so far), ran_for (seconds
        running, so far), node (where it runs or ran; None before it starts), job_id (the
        scheduler's job id while queued or running, e.g. '123' or '123_4' for an array
        element; else None), waiting ('waiting for task 1a2b3c4d (running)' for a queued
        task held for others, else None), pending (for a queued task, why it waits in words:
        `waiting`, else the scheduler's reason), pending_action (what to change so it
        starts, or None), error (a failed task's one line: its exception's type and
        message, else why it failed), row (a bundle task's parameters, {name: short repr};
        None for others), args (a call task's arguments, as shown) and problem (None, or why
        the task's record can't be read: such a task is listed with what its files still
        say, and the others are not hidden).
    """
    root = find_root(root)
    ids, _ = task_ids(ids)
    statuses = task_statuses(root, ids)
    queue = queue_details(root, ids, statuses)
    rows = []
    now = time.time()
    for task_id, status in zip(ids, statuses):
        data, problem = read_task_data(root, task_id)
        times = task_times_or_none(root, task_id)
        started, finished = times.get("started"), times.get("finished")
        created = times.get("created")
        if started is not None and created is not None:
            waited = started - created
        elif status in ("created", "submitted") and created is not None:
            waited = now - created  # still waiting
        else:
            waited = None
        held = status == "submitted" and waiting_for(root, task_id, data.get("depends_on") or [])
        details = queue.get(task_id, {})
        pending, action = pending_text(details) if status == "submitted" else (None, None)
        rows.append(
            {
                "id": task_id,
                "name": data.get("name"),
                "type": data.get("type"),
                "status": status,
                "driver": data.get("driver"),
                "resources": None
                if problem
                else Resources.from_dict(data.get("resources")).summary(),
                **times,
                "waited": waited,
                "ran_for": None if started is None else (finished or now) - started,
                "node": ran_on(root, task_id) if status != "submitted" else None,
                "job_id": details.get("job_id"),
                "waiting": waiting_text(held) if held else None,
                "pending": waiting_text(held) if held else pending,
                "pending_action": None if held else action,
                "error": failure_line(root, task_id) if status == "failure" else None,
                **row_fields(root, data),
                "problem": problem,
            }
        )
    return rows
