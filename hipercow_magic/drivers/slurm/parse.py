"""Reading what Slurm prints: durations, times, sinfo/scontrol/squeue/sacct/jobcomp output."""

from __future__ import annotations

import dataclasses
import datetime as dt
import re

# squeue/sacct states, grouped by what they mean for a task.
PENDING_STATES = {
    "PENDING",
    "CONFIGURING",
    "REQUEUED",
    "REQUEUE_FED",
    "REQUEUE_HOLD",
    "RESV_DEL_HOLD",
    "STOPPED",
}
RUNNING_STATES = {
    "RUNNING",
    "COMPLETING",
    "SIGNALING",
    "STAGE_OUT",
    "SUSPENDED",
    "RESIZING",
    "UPDATE_DB",
    "POWER_UP_NODE",
}
ENDED_REASONS = {
    "TIMEOUT": "time limit reached",
    "OUT_OF_MEMORY": "out of memory",
    "NODE_FAIL": "the node running it failed",
    "BOOT_FAIL": "the node failed to boot",
    "CANCELLED": "cancelled outside hipercow (by an administrator or scancel)",
    "DEADLINE": "its deadline passed",
    "PREEMPTED": "preempted by another job",
    "FAILED": "the batch script failed",
    "COMPLETED": "the job ended but the task wrote no result",
    "SPECIAL_EXIT": "special exit",
    "REVOKED": "revoked by a sibling cluster",
}

# One row of `squeue -O SQUEUE_FIELDS` (fields split by '|'; exit_code is a raw wait status;
# JobID is the job's own id, which an element of an array also has: sstat asks by it).
SQUEUE_FIELDS = (
    "JobArrayID:|,Name:|,State:|,Reason:|,NodeList:|,StartTime:|,SubmitTime:|,"
    "TimeLimit:|,Partition:|,exit_code:|,JobID:"
)
# One row of `sacct -o SACCT_FIELDS --parsable2`.
SACCT_FIELDS = "JobID,JobName,State,ExitCode,NodeList,Start,End,Submit,Reason,Partition"


@dataclasses.dataclass
class JobState:
    """What Slurm says about one job (or one element of an array)."""

    job_id: str
    name: str
    state: str
    reason: str | None = None
    node: str | None = None
    start: float | None = None
    submitted: float | None = None
    time_limit: str | None = None
    exit_code: str | None = None
    partition: str | None = None
    source: str = "squeue"
    raw_id: str | None = None  # the job's own id ('124' for the element '123_1'); squeue's

    @property
    def pending(self) -> bool:
        """Waiting to start (PENDING and the like)."""
        return self.state in PENDING_STATES

    @property
    def running(self) -> bool:
        """Started and not yet ended (RUNNING, COMPLETING...)."""
        return self.state in RUNNING_STATES

    @property
    def ended(self) -> bool:
        """Over, however it ended."""
        return not (self.pending or self.running)

    def ended_reason(self, words: str | None = None) -> str:
        """Why the job ended, in words (`words`, else those of its state), with Slurm's
        state and exit code.
        """
        words = words or ENDED_REASONS.get(self.state, "it ended")
        if self.state == "TIMEOUT" and self.time_limit:
            words += f" ({self.time_limit})"
        detail = self.state
        if self.exit_code and self.exit_code not in ("0:0", ""):
            detail += f", exit code {self.exit_code}"
        return f"Slurm job {self.job_id} ended: {words} [{detail}]"


def minutes(text: str | None) -> int | None:
    """Slurm's time limits ('UNLIMITED', '60', '1:00:00', '2-12', '1-00:00:00') in minutes."""
    if text is None:
        return None
    text = text.strip()
    if not text or text.upper() in ("UNLIMITED", "INFINITE", "NONE", "N/A"):
        return None
    days = 0
    if "-" in text:
        d, text = text.split("-", 1)
        days = int(d)
        parts = [int(p) for p in text.split(":")]
        while len(parts) < 3:
            parts.append(0)
        hours, mins, secs = parts[:3]
    else:
        parts = [int(p) for p in text.split(":")]
        if len(parts) == 1:
            hours, mins, secs = 0, parts[0], 0
        elif len(parts) == 2:
            hours, mins, secs = 0, parts[0], parts[1]
        else:
            hours, mins, secs = parts[:3]
    total = days * 1440 + hours * 60 + mins + (1 if secs else 0)
    return total


def timestamp(text: str | None) -> float | None:
    """Epoch seconds from Slurm's local 'YYYY-MM-DDTHH:MM:SS'; None for N/A, Unknown, None."""
    if not text:
        return None
    try:
        return dt.datetime.fromisoformat(text.strip()).timestamp()
    except ValueError:
        return None


def key_values(line: str) -> dict[str, str]:
    """`Key=Value Key=Value` as printed by `scontrol -o` and the jobcomp file."""
    out = {}
    for m in re.finditer(r"(\w[\w/:]*)=(\S*)", line):
        out[m.group(1)] = m.group(2)
    return out


def config(text: str) -> dict[str, str]:
    """`scontrol show config` as a dict."""
    out = {}
    for line in text.splitlines():
        if " = " in line:
            k, v = line.split(" = ", 1)
            out[k.strip()] = v.strip()
    return out


@dataclasses.dataclass
class SinfoNode:
    """One row of sinfo's node list: a node in one partition (`default`: the default one),
    with its generic resources as sinfo writes them (`gres`, e.g. 'gpu:tesla:2(S:0)').
    """

    name: str
    cpus: int
    memory_mb: int | None
    state: str
    partition: str
    default: bool
    gres: str = ""


def sinfo_nodes(text: str) -> list[SinfoNode]:
    """Rows of `sinfo -h -N -o '%N|%c|%m|%T|%P|%G'` (a node appears once per partition)."""
    rows = []
    for line in text.splitlines():
        if not line.strip():
            continue
        fields = line.split("|")
        name, cpus, mem, state, partition = fields[:5]
        default = partition.endswith("*")
        mem = mem.rstrip("+")
        rows.append(
            SinfoNode(
                name.strip(),
                int(cpus.rstrip("+")),
                int(mem) if mem.isdigit() else None,
                state.strip(),
                partition.rstrip("*").strip(),
                default,
                fields[5].strip() if len(fields) > 5 else "",
            )
        )
    return rows


def gres_gpus(gres: str) -> tuple[int, list[str]]:
    """A node's GPUs from its Gres as sinfo writes it: how many, and their types.

    'gpu:tesla:2(S:0)' -> (2, ['tesla']); 'gpu:2' -> (2, []); 'gpu:a100:2,gpu:v100:1,mps:100'
    -> (3, ['a100', 'v100']); '(null)' or '' -> (0, []).
    """
    count, types = 0, []
    for item in re.sub(r"\([^)]*\)", "", gres).split(","):
        parts = item.strip().split(":")
        if parts[0] != "gpu":
            continue
        number = parts[-1] if len(parts) > 1 else "1"
        count += int(number) if number.isdigit() else 1
        if len(parts) == 3 and parts[1] not in types:
            types.append(parts[1])
    return count, types


def partitions(text: str) -> dict[str, dict[str, str]]:
    """`scontrol show partition -o`: partition name -> its settings."""
    out = {}
    for line in text.splitlines():
        kv = key_values(line)
        if "PartitionName" in kv:
            out[kv["PartitionName"]] = kv
    return out


def squeue_rows(text: str) -> dict[str, JobState]:
    """`squeue -h -r -O SQUEUE_FIELDS`, keyed by job id ('123' or '123_4' for arrays)."""
    out = {}
    for line in text.splitlines():
        parts = [p.strip() for p in line.split("|")]
        if len(parts) < 10:
            continue
        job_id, name, state, reason, node, start, submitted, limit, partition, status = parts[:10]
        raw = parts[10] if len(parts) > 10 else ""
        out[job_id] = JobState(
            job_id=job_id,
            name=name,
            state=state_name(state),
            reason=_none(reason),
            node=_none(node),
            start=timestamp(start),
            submitted=timestamp(submitted),
            time_limit=_none(limit),
            exit_code=_wait_status(status),
            partition=_none(partition),
            raw_id=raw if raw.isdigit() else None,
        )
    return out


def sacct_rows(text: str) -> dict[str, JobState]:
    """`sacct -n -P -X -o SACCT_FIELDS`, keyed by job id."""
    out = {}
    for line in text.splitlines():
        parts = line.split("|")
        if len(parts) < 10:
            continue
        job_id, name, state, exit_code, node, start, _end, submitted, reason, partition = parts[:10]
        out[job_id] = JobState(
            job_id=job_id,
            name=name,
            state=state_name(state),
            reason=_none(reason),
            node=_none(node),
            start=timestamp(start),
            submitted=timestamp(submitted),
            exit_code=exit_code,
            partition=_none(partition),
            source="sacct",
        )
    return out


def jobcomp_rows(text: str, wanted: set[str]) -> dict[str, JobState]:
    """Lines of the jobcomp/filetxt file (what `sacct -c` reads) for the `wanted` job ids.

    Array elements are keyed as '<ArrayJobId>_<ArrayTaskId>', plain jobs by their id; the
    latest line for an id wins.
    """
    out = {}
    for line in text.splitlines():
        if not line.startswith("JobId="):
            continue
        kv = key_values(line)
        job_id = kv.get("JobId", "")
        if kv.get("ArrayJobId") and kv.get("ArrayTaskId"):
            job_id = f"{kv['ArrayJobId']}_{kv['ArrayTaskId']}"
        if job_id not in wanted:
            continue
        node = kv.get("NodeList")
        out[job_id] = JobState(
            job_id=job_id,
            name=kv.get("Name", ""),
            state=state_name(kv.get("JobState", "")),
            node=None if node in (None, "", "(null)") else node,
            start=timestamp(kv.get("StartTime")),
            submitted=timestamp(kv.get("SubmitTime")),
            time_limit=_none(kv.get("TimeLimit")),
            exit_code=kv.get("ExitCode"),
            partition=kv.get("Partition"),
            source="jobcomp",
        )
    return out


def scancel_refused(stderr: str) -> set[str]:
    """Job ids that scancel could not cancel (already finished or unknown)."""
    return set(re.findall(r"job id ([0-9_]+)", stderr))


def _wait_status(raw: str) -> str | None:
    """Squeue's raw wait status (768) as sacct writes exit codes ('3:0' = exit 3, signal 0)."""
    if not raw.isdigit():
        return None
    value = int(raw)
    return f"{value >> 8}:{value & 0x7F}"


def state_name(state: str) -> str:
    """A job state as Slurm prints it ('CANCELLED by 0', 'RUNNING+') reduced to its name."""
    return state.split()[0].rstrip("+").upper() if state.strip() else "UNKNOWN"


def _none(value: str | None) -> str | None:
    if value is None:
        return None
    value = value.strip()
    return None if value in ("", "N/A", "None", "(null)", "Unknown", "n/a") else value
