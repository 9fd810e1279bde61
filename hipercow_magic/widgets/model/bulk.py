"""What a bundle's live display knows: one summary row per task (its parameters, status,
node, times, error or why it waits), counts per status, the failures by parameters, an ETA.
"""

from __future__ import annotations

import statistics
import time

from hipercow_magic import api
from hipercow_magic.api.info import cancelled_text
from hipercow_magic.api.retries import attempt_note
from hipercow_magic.api.usage import group_words, usage_figures
from hipercow_magic.core.errors import error_line
from hipercow_magic.core.format import pretty_dt, short_id
from hipercow_magic.core.status import TERMINAL, count_statuses
from hipercow_magic.widgets.model.common import Model

PENDING_REFRESH = 5.0  # seconds between asking why the shown queued tasks wait
USAGE_REFRESH = 5.0  # seconds between readings of what the running tasks use
USAGE_GRACE = 15.0  # seconds an ended task's final figures are awaited


def row_label(summary: dict) -> str:
    """A task as a bundle's display names it: its row's parameters ('beta=0.3, seed=7'),
    else a call's arguments, else its name, else its short id.
    """
    row = summary.get("row")
    if row:
        return ", ".join(f"{k}={v}" for k, v in row.items())
    if summary.get("args"):
        return ", ".join(summary["args"])
    return summary.get("name") or short_id(summary["id"])


def detail_text(summary: dict) -> str:
    """The one line a task's row adds to its state: the error of a failed task, how a
    cancelled one was cancelled, why a queued one waits and what to do about it ('' when
    there is nothing to say).
    """
    status = summary.get("status")
    if status == "failure":
        return summary.get("error") or "failed"
    if status == "cancelled":
        return summary.get("error") or cancelled_text(summary)
    if status == "submitted":
        action = summary.get("pending_action")
        return "; ".join(x for x in (summary.get("pending"), action) if x)
    return ""


def durations(summary: dict, now: float) -> tuple[float | None, float | None]:
    """(waited, ran for) of a task so far, in seconds: waited from its creation to its start
    (or its end, or `now`, if it never started), ran from its start to its end (or `now`).
    """
    created, started = summary.get("created"), summary.get("started")
    finished = summary.get("finished")
    end = finished if finished is not None else now
    waited = (
        None if created is None else max(0.0, (started if started is not None else end) - created)
    )
    ran = None if started is None else max(0.0, end - started)
    return waited, ran


def failure_line(summary: dict) -> str:
    """A failed or cancelled task by its parameters: 'beta=0.3, seed=7: ZeroDivisionError'."""
    return f"{row_label(summary)}: {detail_text(summary)}"


class BulkModel(Model):
    """A bundle's tasks, each with its summary row (see api.task_summaries), in order.

    `shown` is the set of ids a view shows now: their reasons for waiting are asked again
    every PENDING_REFRESH seconds; the others' rows change only when their status does.
    """

    def __init__(self, bundle, root):
        super().__init__(root)
        self.bundle = bundle
        self.name = bundle.name
        self.ids = list(bundle.ids)
        self.rows: dict[str, dict] = {}
        self.statuses: dict[str, str | None] = {}
        self.shown: set[str] = set()
        self.pending_at = time.monotonic()
        self.figures: dict = {}  # task id: its Efficiency (figures against its request)
        self.usage_at = time.monotonic()
        self._take(api.task_summaries(self.ids, root=root))
        self._read_usage(self.ids)
        self.awaited = {  # ended with only a live reading: the final figures are on their way
            i: self.usage_at + USAGE_GRACE
            for i, f in self.figures.items()
            if self.statuses.get(i) in TERMINAL and f.usage is not None and f.usage.running
        }
        if self.awaited:
            self.follow_up(self._settle)

    def _take(self, summaries: list[dict]) -> None:
        for summary in summaries:
            self.rows[summary["id"]] = summary
            self.statuses[summary["id"]] = summary["status"]

    def active_ids(self) -> list[str]:
        """The bundle's tasks that have not finished."""
        with self.lock:
            return [i for i in self.ids if self.statuses.get(i) not in TERMINAL]

    def update(self, statuses: dict, now: float) -> None:
        """Take new statuses: the rows of tasks that changed are read again (one batched
        call), and those of the queued tasks a view shows every PENDING_REFRESH seconds.
        """
        with self.lock:
            changed = [i for i in self.ids if i in statuses and statuses[i] != self.statuses[i]]
            for task_id in changed:
                self.statuses[task_id] = statuses[task_id]
            due = list(changed)
            if time.monotonic() - self.pending_at > PENDING_REFRESH:
                self.pending_at = time.monotonic()
                queued = [i for i in self.ids if self.statuses[i] == "submitted"]
                due += [i for i in queued if i in self.shown and i not in changed]
            if due:
                try:
                    self._take(api.task_summaries(due, root=self.root))
                except Exception as e:  # the statuses stand; the rows say what they said
                    self.problem = f"can't read the tasks' details ({error_line(e)})"
            self._update_usage(changed)
            self._follow_attempts([i for i in changed if self.statuses[i] == "failure"])
        self.notify(now)

    def _follow_attempts(self, failed: list[str]) -> None:
        """Show, in their rows' places, the attempts the retry policies of these failed
        tasks made (a retry made by hand elsewhere is not followed: its row says so).
        """
        mapping = {}
        for task_id in failed:
            try:
                newest = api.task_info(task_id, root=self.root).id
                note = attempt_note(self.root, newest, follow=False) if newest != task_id else ""
            except Exception:  # the failure stays shown, as it was heard
                continue
            if (note or "").startswith("attempt "):
                mapping[task_id] = newest
        if mapping:
            self._replace(mapping, api.task_summaries(list(mapping.values()), root=self.root))

    def _update_usage(self, changed: list[str]) -> None:
        """Read the figures of the running tasks every USAGE_REFRESH seconds, and await
        those of the tasks that just ended (see `_settle`); the others' figures are kept.
        """
        clock = time.monotonic()
        ended = [i for i in changed if self.statuses[i] in TERMINAL]
        self.awaited.update({i: clock + USAGE_GRACE for i in ended})
        due = list(ended)
        if clock - self.usage_at > USAGE_REFRESH:
            self.usage_at = clock
            due += [i for i in self.ids if self.statuses[i] == "running"]
        self._read_usage(due)
        if self._settle_figures(clock):
            self.follow_up(self._settle)

    def _settle(self) -> bool:
        """Read the figures still awaited; whether some still are."""
        self._read_usage(list(self.awaited))
        return self._settle_figures(time.monotonic())

    def _settle_figures(self, clock: float) -> bool:
        """Stop awaiting the tasks whose final figures came (or whose USAGE_GRACE passed);
        whether some are still awaited.
        """
        self.awaited = {
            i: until
            for i, until in self.awaited.items()
            if until > clock and i in self.statuses and not self._final(i)
        }
        return bool(self.awaited)

    def _final(self, task_id: str) -> bool:
        found = self.figures.get(task_id)
        return found is not None and found.usage is not None and not found.usage.running

    def _read_usage(self, ids: list[str]) -> None:
        if not ids:
            return
        try:
            found = usage_figures(ids, self.root, [self.statuses.get(i) for i in ids])
        except Exception:  # figures are extra: the display stands without them
            return
        self.figures.update({f.task_id: f for f in found})

    # ---- what the views show ----------------------------------------------------------
    def summaries(self, status: str | None = None) -> list[dict]:
        """The tasks' rows in the bundle's order (only those with `status`, if given), each
        with its status as last heard.
        """
        with self.lock:
            rows = [{**self.rows[i], "status": self.statuses[i]} for i in self.ids]
        return [r for r in rows if status is None or r["status"] == status]

    def counts(self) -> dict[str, int]:
        """How many tasks have each status, in lifecycle order (statuses with none left out)."""
        with self.lock:
            return count_statuses(self.statuses[i] for i in self.ids)

    def finished(self) -> int:
        """How many tasks have finished (success, failure or cancelled)."""
        return sum(n for s, n in self.counts().items() if s in TERMINAL)

    def label(self, task_id: str) -> str:
        """The task's parameters ('beta=0.3, seed=7'), or what names it lacking a row."""
        with self.lock:
            return row_label(self.rows[task_id])

    def summary_text(self, now: float) -> str:
        """Median and longest waits and run times so far, in one line."""
        waited, ran = [], []
        for r in self.summaries():
            wait, run = durations(r, now)
            if wait is not None and (r.get("started") is not None or r["status"] not in TERMINAL):
                waited.append(wait)
            if run is not None:
                ran.append(run)
        parts = []
        for label, values in (("waited", waited), ("ran for", ran)):
            if values:
                parts.append(
                    f"{label} {pretty_dt(statistics.median(values))} median, "
                    f"{pretty_dt(max(values))} max"
                )
        return " · ".join(parts)

    def eta_text(self, now: float) -> str:
        """When the unfinished tasks should be done: the mean run time of the finished ones,
        times how many are left, over how many run at once ('' once all have finished).
        """
        rows = self.summaries()
        left = [r for r in rows if r["status"] not in TERMINAL]
        if not left:
            return ""
        runs = [
            r["finished"] - r["started"]
            for r in rows
            if r["status"] in ("success", "failure") and r.get("started") and r.get("finished")
        ]
        if not runs:
            return "ETA unknown: no task has finished yet"
        mean = statistics.fmean(runs)
        at_once = max(1, sum(r["status"] == "running" for r in left))
        eta = mean * len(left) / at_once
        return (
            f"ETA ~{pretty_dt(eta)}: {len(left)} left × {pretty_dt(mean)} each "
            f"(mean of {len(runs)} finished), {at_once} at a time"
        )

    def usage_text(self) -> str | None:
        """What the ended tasks used of what they asked for, in words (None without
        figures): 'used 31% of the cores and 12% of the memory asked for, across 40 tasks'.
        """
        return group_words(self.usage_figures())

    def usage_figures(self) -> list:
        """Each task's figures against its request (an Efficiency each), in the bundle's
        order, with its status as last heard.
        """
        with self.lock:
            out = []
            for task_id in self.ids:
                found = self.figures.get(task_id)
                if found is not None:
                    found.status = self.statuses.get(task_id)
                    out.append(found)
            return out

    def failed(self) -> list[dict]:
        """The rows of the failed and cancelled tasks, in the bundle's order."""
        return [r for r in self.summaries() if r["status"] in ("failure", "cancelled")]

    def failures(self) -> list[tuple[str, str]]:
        """(id, error line) of each failed or cancelled task, in the bundle's order."""
        return [(r["id"], detail_text(r)) for r in self.failed()]

    def failure_lines(self) -> list[str]:
        """Each failed or cancelled task by its parameters: 'beta=0.3: ZeroDivisionError: ...'."""
        return [failure_line(r) for r in self.failed()]

    # ---- acting on the tasks ----------------------------------------------------------
    def cancel(self, ids: list[str]) -> list[bool]:
        """Cancel these tasks of the bundle; whether each was cancelled."""
        return api.task_cancel(ids, follow=False, root=self.root)

    def cancel_all(self) -> list[bool]:
        """Cancel every unfinished task; whether each was cancelled."""
        return self.cancel(self.active_ids())

    def retry(self, ids: list[str]) -> int:
        """Retry these tasks; the display follows the new tasks, each in its row's place."""
        if not ids:
            return 0
        new = api.task_retry(ids, root=self.root)
        mapping = {old: handle.id for old, handle in zip(ids, new)}
        self._replace(mapping, api.task_summaries(list(mapping.values()), root=self.root))
        return len(ids)

    def _replace(self, mapping: dict[str, str], summaries: list[dict]) -> None:
        """Put each new task (`mapping`: old id -> new id) in its old task's row."""
        with self.lock:
            self.ids = [mapping.get(i, i) for i in self.ids]
            for old in mapping:
                self.rows.pop(old, None)
                self.statuses.pop(old, None)
                self.figures.pop(old, None)
                self.awaited.pop(old, None)
                self.shown.discard(old)
            self._take(summaries)

    def retry_failed(self) -> int:
        """Retry failed and cancelled tasks; the display follows the new tasks."""
        return self.retry([i for i, _ in self.failures()])
