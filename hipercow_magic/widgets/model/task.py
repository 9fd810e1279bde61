"""What a task's live display knows: status, times, the scheduler's view, log, outcome."""

from __future__ import annotations

import time

from hipercow_magic import api
from hipercow_magic.api.info import cancelled_text, scheduler_text, task_node
from hipercow_magic.api.retries import attempt_note
from hipercow_magic.api.usage import usage_reading
from hipercow_magic.core.errors import error_line
from hipercow_magic.core.format import clock_time, format_bytes, pretty_dt, short_id
from hipercow_magic.core.resources import Resources
from hipercow_magic.core.status import ACTIVE, TERMINAL
from hipercow_magic.widgets.model.common import Model, error_text, value_repr

SCHEDULER_REFRESH = 5.0  # seconds between scheduler views of one queued/running task
SCHEDULER_RETRY = 1.0  # ... while the scheduler has not reported on it yet
LOG_LIMIT = 200_000  # characters of log kept for the tail
USAGE_REFRESH = 5.0  # seconds between readings of what a running task uses
USAGE_GRACE = 15.0  # seconds an ended task's display waits for its final figures


def reuse_note(task) -> str | None:
    """The note of a cell's display when its cell reused an earlier task (`task.reused`) or
    attached to one still queued or running (`task.attached`); None for a new task.
    """
    if getattr(task, "reused", False):
        return f"reused task {short_id(task.id)}: same code and inputs"
    if getattr(task, "attached", False):
        return (
            f"attached to task {short_id(task.id)}, already queued or running: same code and inputs"
        )
    return None


class TaskModel(Model):
    """One task: status, times, the scheduler's view, log tail, result or error, exports;
    and a `note` a display shows under its title (e.g. that its cell reused the task).
    """

    def __init__(
        self,
        task_id: str,
        root,
        delivery=None,
        sequence: int = 0,
        export: bool = True,
        note: str | None = None,
    ):
        super().__init__(root)
        self.delivery = delivery
        self.sequence = sequence
        self.export = export
        self.note = note
        self.log_open = False
        self.log_full = False
        self._load(task_id)

    def _load(self, task_id: str) -> None:
        info = api.task_info(task_id, follow=False, root=self.root)
        data = info.data
        code = data
        if data.get("type") == "retry":  # runs its base task's code: show and export that
            code = api.task_info(data["base"], follow=False, root=self.root).data
        self.id = task_id
        self.name = data.get("name") or code.get("name")
        self.kind = code.get("type")
        self.driver = info.driver
        self.resources = Resources.from_dict(data["resources"]) if data.get("resources") else None
        parallel = data.get("parallel") or {}
        self.parallel = parallel.get("method")
        self.cores_per_process = parallel.get("cores_per_process")
        self.imports = dict(data.get("imports") or code.get("imports") or {})  # a retry's own
        data = code
        self.locals_sizes = dict(data.get("locals_sizes") or {})
        if self.kind == "call":
            self.locals_sizes = {}
        self.exports = list(data.get("exports") or [])
        self.has_result = bool(data.get("has_result"))
        self.status = info.status
        self.times = dict(info.times)
        self.scheduler = dict(info.scheduler or {})
        self.node = self.scheduler.get("node")
        self.reason = info.reason
        self.cancelling = False
        self.scheduler_at = time.monotonic()
        self.attempt = attempt_note(self.root, task_id, follow=False)
        self.retried_as: str | None = None
        self.usage: str | None = None
        self.usage_final = False
        self.usage_at = 0.0
        self.ended_at: float | None = None
        self.log_text = ""
        self.log_offset = 0
        self.result_ready = False
        self.value = None
        self.error = None
        self.exported: list[str] | None = None
        self.delivered = False
        if self.status in TERMINAL:
            self._finish()
        elif self.status == "running":
            self.refresh_usage()

    # ---- refreshing ---------------------------------------------------------------
    def active_ids(self) -> list[str]:
        """This task's id until it has finished and its values were delivered."""
        with self.lock:
            if self.status in TERMINAL and self.delivered:
                return []
            return [self.id]

    def update(self, statuses: dict, now: float) -> None:
        """Take a new status: fetch its times, the outcome once, the scheduler's view."""
        with self.lock:
            status = statuses.get(self.id, self.status)
            if status != self.status:
                self.status = status
                self.times = api.task_times([self.id], root=self.root)[0]
                self.scheduler = {}
                self.scheduler_at = 0.0
                if status in TERMINAL:
                    self.cancelling = False
                    self._finish()
            # ask again soon while the scheduler has not said anything yet
            period = SCHEDULER_REFRESH if self.scheduler else SCHEDULER_RETRY
            if status in ACTIVE and time.monotonic() - self.scheduler_at > period:
                self.refresh_scheduler()
            if status == "running" and time.monotonic() - self.usage_at > USAGE_REFRESH:
                self.refresh_usage()
            if self.log_open and status != "created":
                self.read_log()
            retried_as = self.retried_as if self.status == "failure" else None
        if retried_as is not None:  # its retry policy made another attempt: show that one
            self.follow(retried_as)
            return
        self.notify(now)

    def refresh_scheduler(self) -> None:
        """Ask the scheduler about the task (queue position, reason, node)."""
        self.scheduler_at = time.monotonic()
        try:
            self.scheduler = api.task_scheduler_info(self.id, root=self.root)
        except Exception as e:  # the scheduler being unreachable is shown, never raised
            self.scheduler = {"problem": f"can't ask the scheduler: {error_line(e)}"}
        self.node = self.scheduler.get("node") or self.node

    def refresh_usage(self) -> None:
        """Read what the task uses (a running task's latest reading) or used."""
        self.usage_at = time.monotonic()
        try:
            self.usage, self.usage_final = usage_reading(self.root, self.id)
        except Exception:  # figures are extra: a display without them is still right
            self.usage_final = self.status in TERMINAL

    def _await_usage(self) -> bool:
        """Look for the final figures again; whether to look once more."""
        self.refresh_usage()
        return self.awaiting_usage()

    def awaiting_usage(self) -> bool:
        """Whether an ended task's final figures are still to come (for USAGE_GRACE
        seconds after its end was seen: a driver writes them just after the end).
        """
        if self.status not in TERMINAL or self.usage_final or self.ended_at is None:
            return False
        if self.times.get("started") is None:
            return False  # it never ran: there is nothing to measure
        return time.monotonic() - self.ended_at < USAGE_GRACE

    def read_log(self) -> None:
        """Read the log written since the last read (the tail is kept)."""
        text, offset = api.task_log_read(self.id, self.log_offset, root=self.root)
        if text:
            self.log_text = (self.log_text + text)[-LOG_LIMIT:]
            self.log_offset = offset

    def _finish(self) -> None:
        """Fetch the outcome once, and hand a success's variables to the delivery."""
        self.ended_at = time.monotonic()
        if self.times.get("started") is not None:
            self.node = task_node(self.id, self.root) or self.node
            self.refresh_usage()
            if self.awaiting_usage():
                self.follow_up(self._await_usage)
        if self.status == "cancelled":
            info = api.task_info(self.id, follow=False, root=self.root)
            self.reason = info.reason
            self.result_ready = True
        elif self.status == "success" and self.kind == "expression" and not self.has_result:
            self.result_ready = True  # no final expression: no value to show, none to load
        else:
            try:
                outcome = api.task_result(self.id, follow=False, root=self.root)
            except Exception as e:
                outcome = e
            if self.status == "failure":
                self.error = outcome
                info = api.task_info(self.id, follow=False, root=self.root)
                self.reason = info.reason
                self.attempt = attempt_note(self.root, self.id, follow=False)
                self._policy_retry((info.retry_chain or [self.id])[-1])
            else:
                self.value = outcome
            self.result_ready = True
        self.read_log()
        if (
            self.status == "success"
            and self.export
            and self.delivery is not None
            and self.kind in ("expression", "explicit")
            and not self.delivered
        ):
            values = api.task_exports(self.id, follow=False, root=self.root)
            self.delivery.submit(self.sequence, values, self._delivered)
        else:
            self.delivered = True

    def _policy_retry(self, newest: str) -> None:
        """Note the attempt its retry policy made after this one failed (followed by
        `update`); a retry made by hand is followed by whoever made it.
        """
        if self.is_policy_attempt(newest):
            self.retried_as = newest

    def next_attempt(self) -> str | None:
        """The attempt this task's retry policy made after it failed (None if none)."""
        chain = api.task_info(self.id, follow=False, root=self.root).retry_chain
        newest = (chain or [self.id])[-1]
        return newest if self.is_policy_attempt(newest) else None

    def is_policy_attempt(self, newest: str) -> bool:
        """Whether `newest`, the newest task of this one's retry chain, is an attempt its
        retry policy made (not a retry made by hand).
        """
        note = attempt_note(self.root, newest, follow=False) or ""
        return newest != self.id and note.startswith("attempt ")

    def _delivered(self, names: list[str]) -> None:
        with self.lock:
            self.exported = names
            self.delivered = True
        self.notify(time.time())

    def mark_delivered(self, names: list[str]) -> None:
        """The values were set by the cell itself (a cell that waited for its task)."""
        with self.lock:
            self.exported = names
            self.delivered = True
            self.export = False

    # ---- actions ------------------------------------------------------------------
    def cancel(self) -> bool:
        """Cancel the task; whether it was cancelled (views say 'cancelling…' until the
        task's status is cancelled).
        """
        ok = bool(api.task_cancel(self.id, follow=False, root=self.root))
        with self.lock:
            self.cancelling = ok and self.status not in TERMINAL
        return ok

    def follow(self, task_id: str) -> None:
        """Show `task_id` (a retry of this task) from now on."""
        with self.lock:
            self.delivered = False
            self.note = None  # a retry is a new task
            self._load(task_id)
        self.notify(time.time())

    # ---- facts for views ----------------------------------------------------------
    def waited(self, now: float) -> float | None:
        """Seconds from creation to start (so far, while still waiting); None if unknown."""
        created, started = self.times.get("created"), self.times.get("started")
        if created is None:
            return None
        if started is not None:
            return started - created
        return now - created if self.status in ("created", "submitted") else None

    def ran_for(self, now: float) -> float | None:
        """Seconds from start to finish (so far, while running); None if it never ran."""
        started, finished = self.times.get("started"), self.times.get("finished")
        if started is None:
            return None
        return (finished or now) - started if (finished or self.status == "running") else None

    def timing_text(self, now: float) -> str:
        """'created 15:56:07 · started 15:56:08 (waited 1.2s) · finished 15:56:10 (ran for 2s)
        · ran on node-1', as far as known; live durations count on while waiting or running.
        """
        t = self.times
        created, started, finished = t.get("created"), t.get("started"), t.get("finished")
        parts = [f"created {clock_time(created, now)}"] if created is not None else []
        waited = self.waited(now)
        if started is not None:
            parts.append(f"started {clock_time(started, now)} (waited {pretty_dt(waited)})")
        elif waited is not None:
            parts.append(f"waiting for {pretty_dt(waited)}")
        ran = self.ran_for(now)
        if finished is not None:
            ran_text = f" (ran for {pretty_dt(ran)})" if ran is not None else ""
            parts.append(f"finished {clock_time(finished, now)}{ran_text}")
        elif ran is not None:
            parts.append(f"running for {pretty_dt(ran)}")
        if self.node and started is not None:
            parts.append(f"{'on' if self.status == 'running' else 'ran on'} {self.node}")
        return " · ".join(parts)

    def queue_text(self) -> str:
        """The scheduler's view of a waiting or running task, in words ('' once finished)."""
        return scheduler_text(self.scheduler) if self.status in ACTIVE else ""

    def setup_text(self, now: float | None = None) -> str:
        """Driver, resources and parallel set-up in one line (or why it was not submitted)."""
        if self.status == "created" and not self.driver:
            return (
                "not submitted: no driver configured (%hipercow configure, then %hipercow submit)"
            )
        parts = [f"driver {self.driver}" if self.driver else "no driver"]
        if self.resources:
            since = self.times.get("submitted") or self.times.get("created")
            parts.append(self.resources.summary(since, now, self.status not in TERMINAL))
        if self.parallel:
            parts.append(f"parallel: {self.parallel}, {self.cores_per_process} core(s)/process")
        return " · ".join(parts)

    def locals_text(self) -> str:
        """The captured variables with their sizes ('' when nothing was captured)."""
        return ", ".join(f"{n} ({format_bytes(s)})" for n, s in self.locals_sizes.items())

    def imports_text(self) -> str:
        """The names loaded from other tasks' exports where it runs ('' when none):
        'a from task 1a2b3c4d, b from task 5e6f7a8b'.
        """
        return ", ".join(f"{n} from task {short_id(t)}" for n, t in self.imports.items())

    def outcome(self) -> dict:
        """What the task produced, for the views: kind, text, traceback, names set."""
        if not self.result_ready:
            return {"kind": None}
        if self.status == "failure":
            line, trace = (
                error_text(self.error) if self.error is not None else (self.reason or "failed", "")
            )
            if self.reason and self.reason not in line:
                line = f"{line} ({self.reason})"
            return {"kind": "error", "text": line, "traceback": trace}
        if self.status == "cancelled":
            text = cancelled_text(self.times)
            if self.reason and self.reason != "cancelled":
                text = f"{text} ({self.reason})"
            return {"kind": "cancelled", "text": text}
        text = value_repr(self.value) if self.has_result or self.kind != "expression" else ""
        return {
            "kind": "value",
            "text": text,
            "exported": self.exported,
            "exports": self.exports,
            "export": self.export,
        }
