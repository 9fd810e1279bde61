"""What Slurm says jobs used: sacct's final figures (one call for many jobs, their states
too) and sstat's live readings of running jobs, as `Usage`.
"""

from __future__ import annotations

import dataclasses
import re
import time

from hipercow_magic.core.usage import Usage
from hipercow_magic.drivers.slurm import commands, parse
from hipercow_magic.drivers.slurm.commands import SlurmUnavailable

ACCOUNTING_SOURCE = "Slurm accounting (sacct)"
SSTAT_SOURCE = "Slurm sstat, read every poll"
# After parse.SACCT_FIELDS: what a job used. Without -X, sacct adds a row for each step
# (the batch step holds the peak memory).
USAGE_FIELDS = "TotalCPU,MaxRSS,ElapsedRaw,AllocCPUS"
SSTAT_FIELDS = "JobID,AveCPU,MaxRSS,AveRSS"
_UNITS = {"": 1, "K": 1024, "M": 1024**2, "G": 1024**3, "T": 1024**4, "P": 1024**5}


@dataclasses.dataclass
class Accounting:
    """One sacct answer: each job's state (as `parse.sacct_rows`), the figures of the jobs
    whose accounting is complete (ended, with their batch step's figures recorded), and the
    jobs that ran and ended whose batch step is not recorded yet (`unrecorded`).
    """

    states: dict[str, parse.JobState]
    usage: dict[str, Usage]
    unrecorded: set[str] = dataclasses.field(default_factory=set)


@dataclasses.dataclass
class Reading:
    """One sstat reading of a running job's batch step."""

    cpu: float  # CPU seconds so far
    memory_peak: int  # bytes
    memory_now: int  # bytes


def sacct(job_ids: list[str], since: float) -> Accounting | None:
    """States and figures of jobs from Slurm's accounting, in ONE sacct call.

    Args:
        job_ids: the jobs ('123', or '123_4' for an element of an array).
        since: a time (epoch seconds) before any of them was submitted.

    Returns:
        The answer, or None where Slurm keeps no accounting.

    Raises:
        SlurmUnavailable: sacct failed for another reason.
    """
    args = [
        "sacct",
        "-n",
        "-P",
        "-o",
        f"{parse.SACCT_FIELDS},{USAGE_FIELDS}",
        "-S",
        time.strftime("%Y-%m-%dT%H:%M:%S", time.localtime(since)),
        "-j",
        ",".join(sorted(job_ids)),
    ]
    proc = commands.run(args, check=False)
    if proc.returncode == 0:
        return parse_sacct(proc.stdout)
    if "accounting storage is disabled" in proc.stderr.lower():
        return None
    raise SlurmUnavailable(commands.failure_message(args, proc))


def parse_sacct(text: str) -> Accounting:
    """`sacct -n -P -o SACCT_FIELDS,USAGE_FIELDS` (steps included) as an `Accounting`."""
    jobs = [line for line in text.splitlines() if "." not in line.split("|", 1)[0]]
    states = parse.sacct_rows("\n".join(jobs))
    width = len(parse.SACCT_FIELDS.split(","))
    figures: dict[str, list[str]] = {}
    peaks: dict[str, int] = {}
    batch_ended: set[str] = set()
    for line in text.splitlines():
        parts = line.split("|")
        if len(parts) < width + 4:
            continue
        job_id, step = (parts[0].split(".", 1) + [""])[:2]
        if not step:
            figures[job_id] = parts[width:]
            continue
        peaks[job_id] = max(peaks.get(job_id, 0), size_bytes(parts[width + 1]) or 0)
        if step == "batch" and parse.state_name(parts[2]) not in parse.RUNNING_STATES:
            batch_ended.add(job_id)
    answer = Accounting(states, {})
    for job_id, state in states.items():
        if not state.ended:
            continue
        if job_id in batch_ended and job_id in figures:
            cpu, _rss, elapsed = figures[job_id][:3]
            usage = final_usage(cpu_seconds(cpu) or 0.0, elapsed, peaks.get(job_id, 0))
            answer.usage[job_id] = usage
        elif state.start is not None:
            answer.unrecorded.add(job_id)  # its end is not fully recorded yet: ask later
    return answer


def final_usage(cpu: float, elapsed: str, memory_peak: int) -> Usage:
    """A job's final figures from sacct's TotalCPU (seconds), ElapsedRaw and peak memory.

    Accounting keeps no peak of cores in use: the average stands for it.
    """
    wall = float(elapsed) if elapsed.isdigit() else 0.0
    return Usage(
        wall=wall,
        cpu=cpu,
        cores_peak=cpu / wall if wall > 0 else 0.0,
        memory_peak=memory_peak,
        running=False,
        source=ACCOUNTING_SOURCE,
        updated=time.time(),
    )


def sstat(raw_ids: list[str]) -> dict[str, Reading]:
    """Live readings of running jobs' batch steps, by their own job ids, in ONE sstat call
    (jobs no longer running are left out).

    Raises:
        SlurmUnavailable: sstat could not be run.
    """
    args = ["sstat", "-a", "-n", "-P", "-o", SSTAT_FIELDS, "-j"]
    args.append(",".join(f"{raw}.batch" for raw in sorted(raw_ids)))
    proc = commands.run(args, check=False)  # a step that has just ended is only a warning
    return parse_sstat(proc.stdout)


def parse_sstat(text: str) -> dict[str, Reading]:
    """`sstat -n -P -o SSTAT_FIELDS` by job id; rows with no figures yet are left out."""
    out = {}
    for line in text.splitlines():
        parts = line.split("|")
        if len(parts) < 4 or not parts[0].endswith(".batch"):
            continue
        cpu, peak, now = cpu_seconds(parts[1]), size_bytes(parts[2]), size_bytes(parts[3])
        if cpu is None or peak is None:
            continue
        out[parts[0].removesuffix(".batch")] = Reading(cpu, peak, now or 0)
    return out


def cpu_seconds(text: str) -> float | None:
    """Slurm's CPU times in seconds: '00:11.853' (MM:SS.mmm), '01:02:03', '2-01:02:03'."""
    m = re.fullmatch(r"(?:(\d+)-)?(?:(\d+):)?(\d+):(\d+(?:\.\d+)?)", text.strip())
    if not m:
        return None
    days, hours, mins, secs = m.groups()
    return int(days or 0) * 86400 + int(hours or 0) * 3600 + int(mins) * 60 + float(secs)


def size_bytes(text: str) -> int | None:
    """Slurm's sizes in bytes: '657928K', '1.5G', '0'; None when empty."""
    m = re.fullmatch(r"(\d+(?:\.\d+)?)([KMGTP]?)", text.strip())
    if not m:
        return None
    return int(float(m.group(1)) * _UNITS[m.group(2)])
