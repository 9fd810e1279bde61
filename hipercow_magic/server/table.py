"""The panel's task table for one root: newest first, counted per status, filtered, paged.

Summaries come from the api (where a task runs, its job id, why it waits, its error line,
its bundle row); those of finished tasks never change, so they are kept between polls and
only unfinished or new tasks are asked about again. Each row also has its clock times
written as every display writes them, and a note on why it waits or why it was cancelled
('waiting for task 1a2b3c4d (running)', 'upstream task 1a2b3c4d failed').
"""

from __future__ import annotations

import threading
import time

from hipercow_magic import api
from hipercow_magic.core.errors import HipercowError
from hipercow_magic.core.format import clock_time
from hipercow_magic.core.status import STATUSES, TERMINAL, count_statuses
from hipercow_magic.core.task import read_marker
from hipercow_magic.engine.retry import read_retry_map

CLOCKS = ("created", "started", "finished")


def status_counts(statuses) -> dict:
    """How many tasks have each status: every status named, with 0 for none."""
    return {**dict.fromkeys(STATUSES, 0), **count_statuses(statuses)}


class TaskTable:
    """Remembers finished tasks' summaries per root, and builds pages of the task list."""

    def __init__(self):
        self._finished: dict[str, dict[str, dict]] = {}
        self._lock = threading.Lock()

    def summaries(self, root, ids: list[str]) -> list[dict]:
        """Summaries of `ids` (finished ones remembered from earlier polls), with `note`."""
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
                rows[row["id"]] = {**row, "note": note}
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
