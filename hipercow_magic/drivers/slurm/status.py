"""Tasks' statuses from Slurm: one squeue per poll for every task, and at most one sacct (or
the job completion file) for jobs squeue has forgotten and the final figures of the tasks
found finished; jobs that ended without a result are recorded as failures, with their class.
"""

from __future__ import annotations

import math
import os
import threading
import time
import warnings

from hipercow_magic.core import store
from hipercow_magic.core.errors import TaskDied
from hipercow_magic.core.status import TERMINAL
from hipercow_magic.core.task import marker_status, read_marker, write_terminal
from hipercow_magic.drivers.base import upstream_reason
from hipercow_magic.drivers.slurm import accounting, commands, dependencies, parse
from hipercow_magic.drivers.slurm.cluster import ClusterCache
from hipercow_magic.drivers.slurm.commands import SlurmUnavailable
from hipercow_magic.drivers.slurm.config import poll_interval
from hipercow_magic.drivers.slurm.endings import job_ending
from hipercow_magic.drivers.slurm.jobs import JobIndex, outer_log, parent
from hipercow_magic.drivers.slurm.usage import UsageTracker

MAX_BACKOFF = 15  # the interval grows to at most 15 times the configured one
POLL_BACKOFF = 1.5
GONE_GRACE = 60.0  # seconds after sbatch before a job unknown to Slurm counts as lost
SWEEP_INTERVAL = 30.0  # seconds between looks for finished tasks still remembered


class SlurmUnavailableWarning(UserWarning):
    """Slurm could not be asked; statuses shown are the last known ones."""


class RootState:
    """What the driver remembers between calls for one root (drivers may be rebuilt often).

    Only tasks in flight are remembered: a task's job record, last status and squeue row go
    once it has finished.
    """

    def __init__(self, root, base_interval: float):
        self.jobs = JobIndex(root)
        self.usage = UsageTracker(root)
        self.cluster = ClusterCache()
        self.last: dict[str, str] = {}  # task id -> last status shown, while in flight
        self.interval = base_interval
        self.problem: str | None = None
        self.no_accounting = False
        self.rows: dict[str, parse.JobState] = {}  # squeue's rows for the jobs in `polled`
        self.polled: dict[str, float] = {}  # job id asked about -> when (monotonic)
        self.query_lock = threading.Lock()
        self.swept = time.monotonic()
        self.accounted = -math.inf  # when sacct was last asked (monotonic)

    def sweep(self, force: bool = False) -> None:
        """Forget tasks that have finished (at most every SWEEP_INTERVAL s unless `force`).

        Most tasks are seen to finish from their files, without a status call to this
        driver, so the records kept for them are dropped here (their final figures are
        then read).
        """
        now = time.monotonic()
        if not force and now - self.swept < SWEEP_INTERVAL:
            return
        self.swept = now
        for tid, rec in self.jobs.forget_finished().items():
            self.usage.expect(tid, rec)
        for tid in [t for t in self.last if t not in self.jobs.live]:
            self.last.pop(tid, None)


_STATE: dict[str, RootState] = {}


def root_state(root, config: dict) -> RootState:
    """The state kept for this root in this process (made on first use)."""
    state = _STATE.get(root.path)
    if state is None:
        state = _STATE[root.path] = RootState(root, poll_interval(config))
    return state


class StatusQuery:
    """Slurm's view of one root's tasks, asked as cheaply as it can be.

    Args:
        root: the tasks' root.
        config: the driver's configuration (its poll interval).
        state: the root's `RootState`.
    """

    def __init__(self, root, config: dict, state: RootState):
        self.root = root
        self.config = config
        self.state = state

    def statuses(self, ids: list[str]) -> list[str]:
        """Statuses of submitted/running tasks: ONE squeue call for all of them, and at most
        one sacct (jobs squeue has forgotten, final figures of the tasks found finished).
        """
        self._note_finished(set(ids))
        self.state.sweep()
        records = self.state.jobs.records(ids)
        jobs = {tid: rec for tid, rec in records.items() if rec}
        rows: dict[str, parse.JobState] = {}
        if jobs:
            try:
                rows = self.queue_rows({parent(rec) for rec in jobs.values()})
            except SlurmUnavailable as e:
                self._report(e)
                return self._remember(ids, [self._last_known(tid) for tid in ids], failed=True)
        found: dict[str, parse.JobState | None] = {}
        missing = {}
        for tid, rec in jobs.items():
            row = rows.get(rec["job_id"])
            if row is not None and row.name == rec["name"]:
                found[tid] = row
                if row.ended:
                    self.state.usage.expect(tid, rec)
            else:
                missing[tid] = rec
        lookup_failed = False
        if missing or self.state.usage.pending:
            try:
                finished = self.finished(list(missing.values()), missing)
            except SlurmUnavailable as e:
                self._report(e)
                finished, lookup_failed = {}, True
            for tid, rec in missing.items():
                found[tid] = finished.get(rec["job_id"])
        result = []
        for tid in ids:
            rec = records[tid]
            if rec is None:
                result.append(marker_status(self.root, tid) or "created")
            elif tid in missing and found.get(tid) is None and lookup_failed:
                result.append(self._last_known(tid))
            else:
                result.append(self._resolve(tid, rec, found.get(tid)))
        return self._remember(ids, result, failed=False)

    def job_row(self, rec: dict) -> parse.JobState | None:
        """Slurm's row for one task's job: squeue's, else sacct's; None if it has none.

        Raises:
            SlurmUnavailable: Slurm could not be asked.
        """
        row = self.queue_rows({parent(rec)}).get(rec["job_id"])
        if row is None or row.name != rec["name"]:
            row = self.finished([rec]).get(rec["job_id"])
        return row

    def queue_rows(self, parents: set[str]) -> dict[str, parse.JobState]:
        """Squeue's rows for these jobs; a poll younger than the poll interval is reused, so
        many callers (displays, waits) cost at most one squeue per interval between them.
        """
        state = self.state
        window = poll_interval(self.config)
        with state.query_lock:  # callers in other threads wait for this poll, then share it
            now = time.monotonic()
            if all(now - state.polled.get(p, -math.inf) < window for p in parents):
                return state.rows
            rows = _squeue(parents)
            state.problem = None
            # Rows older than the window are never served again: forget them (so the jobs
            # that have ended, no longer asked about, are not kept).
            state.polled = {p: t for p, t in state.polled.items() if now - t < window}
            state.polled.update({p: now for p in parents})
            state.rows = {
                k: v
                for k, v in state.rows.items()
                if k.split("_")[0] in state.polled and k.split("_")[0] not in parents
            }
            state.rows.update(rows)
            return state.rows

    def finished(
        self, records: list[dict], tasks: dict[str, dict] | None = None
    ) -> dict[str, parse.JobState]:
        """Final states of jobs squeue no longer lists (`records`): sacct, else the jobcomp
        file. The same sacct reads the final figures (usage.json) of the tasks waiting for
        theirs, and of `tasks` (task id -> job record) whose jobs it finds ended.
        """
        wanted = {rec["job_id"]: rec for rec in records}
        rows: dict[str, parse.JobState] = {}
        usage = self.state.usage
        # Figures alone are read at most once a poll interval (a poll that asks about
        # parents within itself asks once).
        now = time.monotonic()
        figures_due = now - self.state.accounted >= poll_interval(self.config)
        if not self.state.no_accounting and (wanted or (figures_due and usage.wanted())):
            self.state.accounted = now
            times = [rec.get("submitted") or 0 for rec in records]
            since = min([*times, usage.earliest_submission() or time.time()]) - 60
            answer = accounting.sacct([*wanted, *usage.wanted()], since)
            if answer is None:
                self.state.no_accounting = True
                usage.disable()
            else:
                rows = answer.states
                usage.record(answer, tasks or {})
        if self.state.no_accounting and wanted:
            rows = self._jobcomp(set(wanted))
        return {
            job_id: row
            for job_id, row in rows.items()
            if job_id in wanted and row.name == wanted[job_id]["name"]
        }

    def _jobcomp(self, wanted: set[str]) -> dict[str, parse.JobState]:
        _, settings = self.state.cluster.get(self.config)
        path = settings.get("jobcomp_file")
        if settings.get("jobcomp_type") != "jobcomp/filetxt" or not path:
            return {}
        text = store.read_text_or(path)
        return parse.jobcomp_rows(text, wanted) if text else {}

    def _resolve(self, tid: str, rec: dict, row: parse.JobState | None) -> str:
        """A task's status from Slurm's view of its job; records deaths as failures."""
        if row is not None and not row.ended:
            # The runner's marker may be ahead of Slurm's view, never behind it.
            if row.running or marker_status(self.root, tid) == "running":
                return "running"
            return "submitted"
        _refresh_dir(self.root.task_dir(tid))
        current = marker_status(self.root, tid)
        if current in TERMINAL:
            return current
        upstream = self._upstream(tid)
        if upstream is not None:
            return upstream
        if row is None:
            if time.time() - (rec.get("submitted") or 0) < GONE_GRACE:
                return current or "submitted"
            reason = (
                f"Slurm has no record of job {rec['job_id']} and the task left no result "
                "(the job may have ended long ago on a cluster without accounting)"
            )
            return self._died(tid, rec, reason)
        if row.reason == dependencies.NEVER_SATISFIED:
            return self._died(
                tid,
                rec,
                f"Slurm cancelled job {row.job_id}: a job it waited for ended without success",
            )
        reason, failure_class = job_ending(row, outer_log(rec))
        return self._died(tid, rec, reason, failure_class)

    def _upstream(self, tid: str) -> str | None:
        """'cancelled' for a task whose job ended without its result because a task it waits
        for failed or was cancelled ('upstream task X failed'); None otherwise.

        Parents still shown in flight are asked about first, so a parent whose job died is
        recorded as failed before its dependents are judged.
        """
        parents = read_marker(self.root, tid, "submitted").get("after")
        if not parents:
            return None
        active = [p for p in parents if marker_status(self.root, p) not in TERMINAL]
        if active:
            self.statuses(active)
        reason = upstream_reason(self.root, parents)
        if reason is None:
            return None
        write_terminal(self.root, tid, "cancelled", reason=reason)
        return marker_status(self.root, tid) or "cancelled"

    def _died(self, tid: str, rec: dict, reason: str, failure_class: str | None = None) -> str:
        """Record a job that ended without its task's result as the task's failure, with
        its class (core.failures; None: an error).
        """
        outer = outer_log(rec)
        if outer is None:
            reason += " (Slurm wrote no output for it: is the root on a filesystem the nodes see?)"
        tail = "\n".join((outer or "").strip().splitlines()[-20:])
        error = TaskDied(reason)
        write_terminal(
            self.root,
            tid,
            "failure",
            reason=reason,
            result={
                "ok": False,
                "error": error,
                "traceback": f"Slurm's output for the job:\n{tail}" if tail else "",
            },
            failure_class=failure_class,
        )
        return marker_status(self.root, tid) or "failure"

    def _note_finished(self, ids: set[str]) -> None:
        """Tasks shown in flight before, not asked about now, that have finished since (from
        their files): their final figures are read with this poll's sacct.
        """
        for tid in [t for t in self.state.last if t not in ids]:
            if marker_status(self.root, tid) in TERMINAL:
                rec = self.state.jobs.get(tid)
                if rec is not None:
                    self.state.usage.expect(tid, rec)
                self.forget(tid)

    def _last_known(self, tid: str) -> str:
        current = marker_status(self.root, tid)
        if current in TERMINAL:
            return current
        return self.state.last.get(tid) or current or "submitted"

    def _remember(self, ids: list[str], result: list[str], failed: bool) -> list[str]:
        """Keep the statuses for the next call (forgetting finished tasks); back off the poll
        interval while nothing changes.
        """
        state = self.state
        changed = any(state.last.get(tid) != s for tid, s in zip(ids, result))
        for tid, s in zip(ids, result):
            state.last[tid] = s
            if s in TERMINAL:
                self.forget(tid)
        base = poll_interval(self.config)
        if changed and not failed:
            state.interval = base
        else:
            state.interval = min(max(state.interval, base) * POLL_BACKOFF, base * MAX_BACKOFF)
        return result

    def forget(self, tid: str) -> None:
        """Drop what is remembered about a finished task."""
        self.state.last.pop(tid, None)
        self.state.jobs.forget(tid)

    def _report(self, error: Exception) -> None:
        message = (
            f"Could not ask Slurm for the tasks' states; showing the last known ones.\n{error}"
        )
        self.state.problem = message
        warnings.warn(message, SlurmUnavailableWarning, stacklevel=4)


def _squeue(job_ids: set[str]) -> dict[str, parse.JobState]:
    args = [
        "squeue",
        "-h",
        "-r",
        "-t",
        "all",
        "-j",
        ",".join(sorted(job_ids)),
        "-O",
        parse.SQUEUE_FIELDS,
    ]
    proc = commands.run(args, check=False)
    if proc.returncode != 0:
        if "Invalid job id" in proc.stderr:
            return {}  # squeue's answer when the only job asked for is gone
        raise SlurmUnavailable(commands.failure_message(args, proc))
    return parse.squeue_rows(proc.stdout)


def _refresh_dir(path: str) -> None:
    """List a folder so a network filesystem shows files another machine just wrote."""
    try:
        os.listdir(path)
    except FileNotFoundError:
        pass
