"""The panel's task table for one root: newest first, counted per status, filtered, paged.

Summaries come from the api; those of finished tasks never change, so they are kept between
polls and only unfinished or new tasks are asked about again.
"""

from __future__ import annotations

import threading
import time

from .. import api
from ..task import STATUSES, TERMINAL


class TaskTable:
    """Remembers finished tasks' summaries per root, and builds pages of the task list."""

    def __init__(self):
        self._finished: dict[str, dict[str, dict]] = {}
        self._lock = threading.Lock()

    def summaries(self, root) -> list[dict]:
        """Every task of `root`, newest first (the order of `task_list`)."""
        ids = api.task_list(root=root)
        with self._lock:
            finished = self._finished.get(root.path, {})
        rows = {i: finished[i] for i in ids if i in finished}
        fresh = [i for i in ids if i not in rows]
        if fresh:
            for row in api.task_summaries(fresh, root=root):
                rows[row["id"]] = row
        with self._lock:
            self._finished[root.path] = {
                i: row for i, row in rows.items() if row["status"] in TERMINAL
            }
        return [rows[i] for i in ids]

    def page(self, root, statuses: list[str] | None = None, offset: int = 0,
             limit: int = 50) -> dict:
        """One page of the table, with counts per status over every task of the root."""
        rows = self.summaries(root)
        counts = dict.fromkeys(STATUSES, 0)
        for row in rows:
            counts[row["status"]] = counts.get(row["status"], 0) + 1
        if statuses:
            rows = [r for r in rows if r["status"] in statuses]
        return {
            "now": time.time(),
            "total": len(rows),
            "counts": counts,
            "offset": offset,
            "limit": limit,
            "tasks": rows[offset:offset + limit],
        }
