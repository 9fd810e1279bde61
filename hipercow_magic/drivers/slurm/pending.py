"""What squeue's rows say of queued jobs, for displays: the job id, the pending reason, and
Slurm's estimated start only where it means something.

Slurm's estimate for a pending job comes from its backfill scheduler, which assumes every
job runs to its time limit, and counts a job without one as running for a year. So an
estimate that far ahead says only that some job has no time limit: it is shown as unknown,
with what to do when it is this job's own limit that is missing.
"""

from __future__ import annotations

import time

from hipercow_magic.drivers.slurm import parse

NO_LIMIT = "unknown: no time limit set; set --max-runtime to be backfilled"
AHEAD_NO_LIMIT = "unknown: jobs ahead of it have no time limit"
MEANINGLESS_AFTER = 300 * 86400  # seconds ahead: Slurm's stand-in for 'no time limit' (a year)
# reasons under which Slurm's start time is no estimate at all (held, or waiting on others)
NO_ESTIMATE = {
    "Dependency",
    "DependencyNeverSatisfied",
    "JobHeldUser",
    "JobHeldAdmin",
    "launch failed requeued held",
    "job requeued in held state",
}


def start_estimate(
    row: parse.JobState, now: float | None = None
) -> tuple[float | None, str | None]:
    """When a pending job may start (epoch seconds) where Slurm's estimate means something,
    else None with why it is unknown (None when there is nothing to say).

    Args:
        row: squeue's row for the job.
        now: the time to compare with (default: now).
    """
    if not row.pending or row.start is None or (row.reason or "") in NO_ESTIMATE:
        return None, None
    now = time.time() if now is None else now
    if row.start - now > MEANINGLESS_AFTER:
        return None, (NO_LIMIT if parse.minutes(row.time_limit) is None else AHEAD_NO_LIMIT)
    if row.start < now - 60:
        return None, None  # not looked at by the scheduler since it was queued
    return row.start, None


def queue_row(record: dict, row: parse.JobState | None, now: float | None = None) -> dict:
    """A task's `Driver.queue_details` entry from its job record and squeue's last row."""
    out = {"job_id": record["job_id"]}
    if row is None or row.name != record["name"] or row.ended:
        return out
    if row.pending and row.reason:
        out["reason"] = row.reason
    start, _ = start_estimate(row, now)
    if start is not None:
        out["estimated_start"] = start
    return out
