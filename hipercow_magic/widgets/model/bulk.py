"""What a bundle's live display knows: counts per status, times, the failures' errors."""

from __future__ import annotations

import statistics

from hipercow_magic import api
from hipercow_magic.core.errors import error_line
from hipercow_magic.core.format import pretty_dt
from hipercow_magic.core.status import TERMINAL, count_statuses
from hipercow_magic.widgets.model.common import Model, error_text


class BulkModel(Model):
    """A bundle's tasks: counts per status, times, the failures with their errors."""

    def __init__(self, bundle, root):
        super().__init__(root)
        self.bundle = bundle
        self.name = bundle.name
        self.ids = list(bundle.ids)
        statuses = api.task_status(self.ids, follow=False, root=root)
        self.statuses = dict(zip(self.ids, statuses))
        self.times = dict(zip(self.ids, api.task_times(self.ids, root=root)))
        self.errors: dict[str, str] = {}
        self._fetch_errors([i for i in self.ids if self.statuses[i] == "failure"])

    def active_ids(self) -> list[str]:
        """The bundle's tasks that have not finished."""
        with self.lock:
            return [i for i in self.ids if self.statuses.get(i) not in TERMINAL]

    def update(self, statuses: dict, now: float) -> None:
        """Take new statuses: fetch the times of tasks that changed, and new failures' errors."""
        with self.lock:
            changed = [i for i in self.ids if i in statuses and statuses[i] != self.statuses[i]]
            for task_id in changed:
                self.statuses[task_id] = statuses[task_id]
            if changed:
                for task_id, times in zip(changed, api.task_times(changed, root=self.root)):
                    self.times[task_id] = times
                self._fetch_errors([i for i in changed if self.statuses[i] == "failure"])
        self.notify(now)

    def _fetch_errors(self, ids: list[str]) -> None:
        for task_id in ids:
            try:
                error = api.task_result(task_id, follow=False, root=self.root)
                self.errors[task_id] = error_text(error)[0]
            except Exception as e:  # the error's own record is unreadable: say why
                self.errors[task_id] = error_line(e)

    def counts(self) -> dict[str, int]:
        """How many tasks have each status, in lifecycle order (statuses with none left out)."""
        with self.lock:
            return count_statuses(self.statuses.values())

    def finished(self) -> int:
        """How many tasks have finished (success, failure or cancelled)."""
        return sum(n for s, n in self.counts().items() if s in TERMINAL)

    def summary_text(self, now: float) -> str:
        """Median and longest waits and run times so far, in one line."""
        waited, ran = [], []
        with self.lock:
            for task_id in self.ids:
                t = self.times[task_id]
                created, started, finished = t.get("created"), t.get("started"), t.get("finished")
                status = self.statuses[task_id]
                if created is not None and (
                    started is not None or status in ("created", "submitted")
                ):
                    waited.append((started or now) - created)
                if started is not None and (finished is not None or status == "running"):
                    ran.append((finished or now) - started)
        parts = []
        for label, values in (("waited", waited), ("ran for", ran)):
            if values:
                parts.append(
                    f"{label} {pretty_dt(statistics.median(values))} median, "
                    f"{pretty_dt(max(values))} max"
                )
        return " · ".join(parts)

    def failures(self) -> list[tuple[str, str]]:
        """(id, error line) of each failed or cancelled task."""
        with self.lock:
            return [
                (i, self.errors.get(i, ""))
                for i in self.ids
                if self.statuses[i] in ("failure", "cancelled")
            ]

    def cancel_all(self) -> list[bool]:
        """Cancel every unfinished task; whether each was cancelled."""
        return api.task_cancel(self.active_ids(), follow=False, root=self.root)

    def retry_failed(self) -> int:
        """Retry failed and cancelled tasks; the display follows the new tasks."""
        failed = [i for i, _ in self.failures()]
        if not failed:
            return 0
        new = api.task_retry(failed, root=self.root)
        with self.lock:
            mapping = {old: handle.id for old, handle in zip(failed, new)}
            self.ids = [mapping.get(i, i) for i in self.ids]
            for old, new_id in mapping.items():
                self.statuses.pop(old, None)
                self.errors.pop(old, None)
                self.times.pop(old, None)
                self.statuses[new_id] = "submitted"
                self.times[new_id] = api.task_times([new_id], root=self.root)[0]
        return len(failed)
