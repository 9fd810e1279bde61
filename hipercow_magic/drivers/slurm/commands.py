"""Running Slurm's commands: one place that calls them, counts them and explains failures."""

from __future__ import annotations

import collections
import os
import shutil
import subprocess

from hipercow_magic.core.errors import HipercowError

# How many times each Slurm command ran in this process (benchmarks and tests read it).
COUNTS: collections.Counter = collections.Counter()
DEFAULT_TIMEOUT = 60


class SlurmUnavailable(HipercowError):
    """A Slurm command could not give an answer (missing, timed out, controller down...)."""


def scheduler_calls() -> int:
    """How many Slurm commands this process has run so far."""
    return sum(COUNTS.values())


def _environment() -> dict:
    """This process's environment without a surrounding job's SLURM_*/SBATCH_* settings."""
    keep = {"SLURM_CONF"}
    return {
        k: v for k, v in os.environ.items() if k in keep or not k.startswith(("SLURM_", "SBATCH_"))
    }


def run(
    args: list[str],
    timeout: float = DEFAULT_TIMEOUT,
    check: bool = True,
    input: str | None = None,
    count_as: str | None = None,
) -> subprocess.CompletedProcess:
    """Run a Slurm command; SlurmUnavailable when it is missing, hangs, or (check) fails.

    Args:
        args: the command and its arguments.
        timeout: seconds to wait for its answer.
        check: whether a non-zero exit status raises SlurmUnavailable.
        input: text for its standard input (none where None).
        count_as: the name it is counted under in COUNTS (default: the command's).
    """
    COUNTS[count_as or args[0]] += 1
    try:
        proc = subprocess.run(
            args,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
            env=_environment(),
            **({"input": input} if input is not None else {"stdin": subprocess.DEVNULL}),
        )
    except FileNotFoundError:
        raise SlurmUnavailable(
            f"'{args[0]}' was not found: the slurm driver needs Slurm's commands on this machine "
            "(run it on the cluster's login node)"
        ) from None
    except subprocess.TimeoutExpired:
        raise SlurmUnavailable(
            f"'{args[0]}' gave no answer within {timeout:g}s (is slurmctld up?)"
        ) from None
    if check and proc.returncode != 0:
        raise SlurmUnavailable(failure_message(args, proc))
    return proc


def failure_message(args: list[str], proc: subprocess.CompletedProcess) -> str:
    """What a failed Slurm command said, with its name and exit status."""
    text = proc.stderr.strip() or proc.stdout.strip() or "(no message)"
    return f"'{args[0]}' failed (exit status {proc.returncode}):\n{text}"


def available() -> bool:
    """Whether Slurm's commands are on the PATH."""
    return all(shutil.which(c) for c in ("sbatch", "squeue", "scancel", "sinfo", "scontrol"))
