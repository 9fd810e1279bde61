"""What one root's Slurm tasks used: the final figures of finished tasks, written to their
usage.json from accounting (the tasks a poll finds finished wait here, and ONE sacct per
poll serves all of them), and live readings of running tasks from ONE sstat.

Accounting may lag a job's end (slurmdbd is told after slurmctld): a task whose figures are
not yet recorded is asked about again at later polls, for LAG_LIMIT seconds at most.
"""

from __future__ import annotations

import dataclasses
import time

from hipercow_magic.core.usage import Usage, read_usage, write_usage
from hipercow_magic.drivers.slurm import accounting
from hipercow_magic.drivers.slurm.parse import JobState

LAG_LIMIT = 300.0  # seconds after a task is seen finished before its figures are given up
RATE_INTERVAL = 2.0  # seconds between the sstat readings cores in use are measured over
MAX_CORES = 4096  # a reading of more cores than this is a step being torn down: ignored


@dataclasses.dataclass
class Pending:
    """A finished task whose final figures are still to be read."""

    record: dict  # its job record (jobs.py)
    since: float  # when it was seen finished (epoch seconds)


@dataclasses.dataclass
class Rate:
    """The last reading cores in use were measured from, and what they were."""

    when: float
    cpu: float
    cores: float | None = None


class UsageTracker:
    """Figures of one root's tasks.

    Args:
        root: the tasks' root.
    """

    def __init__(self, root):
        self.root = root
        self.pending: dict[str, Pending] = {}
        self.rates: dict[str, Rate] = {}  # task id -> its last live reading
        self.peaks: dict[str, float] = {}  # task id -> the most cores seen in use
        self.samples: dict[str, int] = {}  # task id -> live readings taken
        self.unmeasured: set[str] = set()  # tasks accounting has no figures for
        self.disabled = False  # Slurm keeps no accounting

    def expect(self, task_id: str, record: dict) -> None:
        """Note a task that has finished, so the next sacct reads its final figures."""
        if self.disabled or task_id in self.pending or task_id in self.unmeasured:
            return
        stored = read_usage(self.root, task_id)
        if stored is None or stored.running:
            self.pending[task_id] = Pending(record, time.time())

    def wanted(self) -> dict[str, str]:
        """The jobs whose figures the next sacct should read (job id -> task id); tasks
        waiting longer than LAG_LIMIT are given up.
        """
        now = time.time()
        for task_id in [t for t, p in self.pending.items() if now - p.since > LAG_LIMIT]:
            self._done(task_id)
            self.unmeasured.add(task_id)
        return {p.record["job_id"]: task_id for task_id, p in self.pending.items()}

    def earliest_submission(self) -> float | None:
        """When the earliest job waiting for figures was submitted (epoch seconds)."""
        times = [p.record.get("submitted") or 0 for p in self.pending.values()]
        return min(times) if times else None

    def record(self, answer: accounting.Accounting, finished: dict[str, dict]) -> None:
        """Write the final figures `answer` holds for the pending tasks and `finished` ones
        (task id -> job record: tasks just found ended); those whose figures are not yet
        recorded stay pending.
        """
        candidates = {p.record["job_id"]: (t, p.record) for t, p in self.pending.items()}
        for task_id, rec in finished.items():
            candidates.setdefault(rec["job_id"], (task_id, rec))
        for job_id, (task_id, rec) in candidates.items():
            state = answer.states.get(job_id)
            if state is not None and state.name != rec["name"]:
                state = None  # another job with that id: not this task's
            figures = answer.usage.get(job_id) if state is not None else None
            if figures is not None:
                figures.cores_peak = max(figures.cores_peak, self.peaks.get(task_id, 0.0))
                figures.samples = self.samples.get(task_id, 0)
                write_usage(self.root, task_id, figures)
                self._done(task_id)
            elif state is not None and state.ended and job_id not in answer.unrecorded:
                self._done(task_id)  # it never started: nothing was used
                self.unmeasured.add(task_id)
            elif state is not None and state.ended:
                self.expect(task_id, rec)  # ran and ended: its figures are not recorded yet

    def disable(self) -> None:
        """Slurm keeps no accounting: no figures will come."""
        self.disabled = True
        self.pending.clear()

    def live(self, running: dict[str, JobState]) -> dict[str, Usage]:
        """Live readings of running tasks (task id -> Slurm's row of its job) from ONE sstat.

        Raises:
            SlurmUnavailable: sstat could not be run.
        """
        raw = {(row.raw_id or row.job_id): tid for tid, row in running.items()}
        if not raw:
            return {}
        readings = accounting.sstat(list(raw))
        now = time.time()
        out = {}
        for raw_id, reading in readings.items():
            task_id = raw.get(raw_id)
            if task_id is None:
                continue
            start = running[task_id].start
            wall = max(now - start, 0.0) if start else 0.0
            if reading.cpu > max(wall, 1.0) * MAX_CORES:
                continue
            cores = self._cores_now(task_id, reading.cpu, wall, now)
            self.peaks[task_id] = max(self.peaks.get(task_id, 0.0), cores)
            self.samples[task_id] = self.samples.get(task_id, 0) + 1
            out[task_id] = Usage(
                wall=wall,
                cpu=reading.cpu,
                cores_peak=self.peaks[task_id],
                memory_peak=reading.memory_peak,
                cores_now=cores,
                memory_now=reading.memory_now,
                running=True,
                source=accounting.SSTAT_SOURCE,
                samples=self.samples[task_id],
                updated=now,
            )
        return out

    def _cores_now(self, task_id: str, cpu: float, wall: float, now: float) -> float:
        """Cores in use since the reading RATE_INTERVAL s or more ago (the average since
        the start for a first reading).
        """
        last = self.rates.get(task_id)
        if last is None:
            cores = cpu / wall if wall > 0 else 0.0
            self.rates[task_id] = Rate(now, cpu, cores)
            return cores
        if now - last.when < RATE_INTERVAL:
            return last.cores or 0.0
        cores = max(cpu - last.cpu, 0.0) / (now - last.when)
        self.rates[task_id] = Rate(now, cpu, cores)
        return cores

    def _done(self, task_id: str) -> None:
        for kept in (self.pending, self.rates, self.peaks, self.samples):
            kept.pop(task_id, None)
