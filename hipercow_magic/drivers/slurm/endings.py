"""Why a Slurm job ended without its task's result: the failure class a retry policy names
(out of memory, out of time, node failure) and the reason in words.

Slurm says OUT_OF_MEMORY where cgroups enforce memory; where its accounting plugin does
(JobAcctGatherParams=OverMemoryKill, clusters without cgroups) the job ends FAILED and its
output says "Exceeded job memory limit": both are out of memory.
"""

from __future__ import annotations

import re

from hipercow_magic.core.failures import OUT_OF_MEMORY, SLURM_STATE_CLASSES
from hipercow_magic.drivers.slurm.parse import JobState

# slurmstepd's words when it kills a step past its memory request (sizes in bytes)
_OVER_LIMIT = re.compile(r"exceeded memory limit \((\d+) > (\d+)\)", re.IGNORECASE)
_MEMORY_KILL = re.compile(r"exceeded job memory limit|oom-kill|out-of-memory", re.IGNORECASE)


def job_ending(row: JobState, output: str | None) -> tuple[str, str | None]:
    """Why a job ended, and its failure class (None for any other end: an error).

    Args:
        row: Slurm's row for the ended job.
        output: what Slurm wrote for the job (its --output file), if any.

    Returns:
        The reason ('Slurm job 12 ended: out of memory (peak 330 MB > limit 105 MB)
        [FAILED, exit code 0:9]') and the class.
    """
    output = output or ""
    failure_class = SLURM_STATE_CLASSES.get(row.state)
    if failure_class is None and _MEMORY_KILL.search(output):
        failure_class = OUT_OF_MEMORY
    words = None
    over = _OVER_LIMIT.search(output)
    if failure_class == OUT_OF_MEMORY and over:
        used, limit = (int(n) for n in over.groups())
        words = f"out of memory (peak {_size(used)} > limit {_size(limit)})"
    elif failure_class == OUT_OF_MEMORY:
        words = "out of memory"
    return row.ended_reason(words), failure_class


def _size(n: int) -> str:
    """A size in bytes as Slurm counts memory (G = 1024 M): '309 MB', '1.5 GB'."""
    if n >= 1024**3:
        return f"{n / 1024**3:.1f} GB"
    return f"{n / 1024**2:.0f} MB"
