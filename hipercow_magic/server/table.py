"""The panel's task table for one root: newest first, counted per status, filtered, paged.

Summaries come from the api (where a task runs, its job id, why it waits, its error line,
its bundle row); those of finished tasks never change, so they are kept between polls and
only unfinished or new tasks are asked about again. Each row also has its clock times
written as every display writes them, and a note on why it waits or why it was cancelled
('waiting for task 1a2b3c4d (running)', 'upstream task 1a2b3c4d failed'), what the task
uses or used (`usage`: 'using 1.3 of 4 cores, 1.2 GB of 8 GB' while it runs, its efficiency
once it has ended) and which attempt of its retry policy it is (`attempt`).

What a task used is read for running tasks at every poll, and for an ended task once (when
the table first sees it ended), then kept; an ended task whose final figures are not written
yet (a scheduler's accounting can lag) is asked again until USAGE_GRACE after its end.
"""

from __future__ import annotations

import threading
import time

from hipercow_magic import api
from hipercow_magic.api.retries import attempt_note
from hipercow_magic.api.usage import efficiency_words, usage_figures
from hipercow_magic.core.errors import HipercowError
from hipercow_magic.core.format import clock_time
from hipercow_magic.core.status import STATUSES, TERMINAL, count_statuses
from hipercow_magic.core.task import read_marker
from hipercow_magic.engine.retry import read_retry_map

CLOCKS = ("created", "started", "finished")
USAGE_GRACE = 300.0  # seconds after its end that an ended task's final figures are awaited
MEASURED = ("running", *TERMINAL)  # the statuses a task may have figures in


def status_counts(statuses) -> dict:
    """How many tasks have each status: every status named, with 0 for none."""
    return {**dict.fromkeys(STATUSES, 0), **count_statuses(statuses)}


class TaskTable:
    """Remembers finished tasks' summaries per root, and builds pages of the task list."""

    def __init__(self):
        self._finished: dict[str, dict[str, dict]] = {}
        self._lock = threading.Lock()

    def summaries(self, root, ids: list[str]) -> list[dict]:
        """Summaries of `ids` (finished ones remembered from earlier polls), with `note`,
        `usage` and `attempt`.
        """
        with self._lock:
            finished = self._finished.setdefault(root.path, {})
            rows = {i: finished[i] for i in ids if i in finished}
        fresh = [i for i in ids if i not in rows]
        if fresh:
            for row in api.task_summaries(fresh, root=root):
                note = row.get("waiting")
                if row["status"] == "cancelled":  # a reason beyond a user's cancel
                    note = read_marker(root, row["id"], "cancelled").get("reason")
                    note = None if note == "cancelled" else note
                rows[row["id"]] = {**row, "note": note, "attempt": _attempt(root, row)}
        now = time.time()
        measure = [i for i in ids if i in fresh or _awaits_figures(rows[i], now)]
        rows.update(_with_usage(root, [rows[i] for i in measure]))
        with self._lock:
            finished.update(
                (i, row)
                for i, row in rows.items()
                if row["status"] in TERMINAL and not row.get("problem")
            )
        return [rows[i] for i in ids]

    def page(
        self,
        root,
        statuses: list[str] | None = None,
        offset: int = 0,
        limit: int = 50,
        loose: bool = False,
    ) -> dict:
        """One page of the table, with counts per status over every task of the root.

        Every task's status is looked up (cheap first); only the page's tasks are summarised.
        With `loose`, the tasks of bundles (and their retries) are left out of the page (not
        out of the counts): the panel shows them under their bundles. `bundled` counts them.
        """
        ids = api.task_list(root=root)
        status_of = dict(zip(ids, api.task_status(ids, follow=False, root=root)))
        counts = status_counts(status_of.values())
        bundled = 0
        if loose:
            inside = bundled_ids(root)
            kept = [i for i in ids if i not in inside]
            bundled, ids = len(ids) - len(kept), kept
        if statuses:
            ids = [i for i in ids if status_of[i] in statuses]
        now = time.time()
        rows = self.summaries(root, ids[offset : offset + limit])
        return {
            "now": now,
            "total": len(ids),
            "bundled": bundled,
            "counts": counts,
            "offset": offset,
            "limit": limit,
            "tasks": with_clocks(rows, now),
        }


def _attempt(root, row: dict) -> str | None:
    """The row's task's attempt in words ('attempt 2 of 3: out of memory at 2 GB, now
    3 GB'), None for a first attempt or an unreadable task.
    """
    if row.get("problem"):
        return None
    try:
        return attempt_note(root, row["id"], follow=False)
    except HipercowError:  # deleted since it was listed
        return None


def _awaits_figures(row: dict, now: float) -> bool:
    """Whether an ended task's row, kept from an earlier poll, still waits for its final
    figures (for USAGE_GRACE after its end).
    """
    ended = row.get("finished")
    return (
        row["status"] in TERMINAL
        and not row.get("usage_final")
        and ended is not None
        and now - ended < USAGE_GRACE
    )


def _with_usage(root, rows: list[dict]) -> dict[str, dict]:
    """`rows` (by id) with `usage` (what each task uses or used, in words; None when
    nothing was measured) and `usage_final` (whether those are its final figures): one
    driver call for the running ones.
    """
    measured = [r for r in rows if r["status"] in MEASURED and not r.get("problem")]
    out = {r["id"]: {**r, "usage": None, "usage_final": False} for r in rows}
    if not measured:
        return out
    try:
        found = usage_figures(
            [r["id"] for r in measured], root=root, statuses=[r["status"] for r in measured]
        )
    except HipercowError:  # a driver that can't be asked now: no figures this time
        return out
    for figures in found:
        final = figures.usage is not None and not figures.usage.running
        row = out[figures.task_id]
        row.update(usage=efficiency_words(figures), usage_final=final)
    return out


def with_clocks(rows: list[dict], now: float) -> list[dict]:
    """The rows, each with `clock`: its created/started/finished times as `clock_time`
    writes them at `now` ('' when not yet).
    """
    return [{**r, "clock": {k: clock_time(r.get(k), now) for k in CLOCKS}} for r in rows]


def bundled_ids(root) -> set[str]:
    """The ids of every task in a bundle of the root, and of their retries."""
    inside: set[str] = set()
    for name in api.hipercow_bundle_list(root=root):
        try:
            inside.update(api.hipercow_bundle_load(name, root=root).ids)
        except HipercowError:  # deleted while listing
            continue
    inside.update(task for task, _, base in read_retry_map(root) if base in inside)
    return inside
