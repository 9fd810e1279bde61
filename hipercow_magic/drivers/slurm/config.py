"""The slurm driver's options: checking them, and asking the nodes' Python for its versions."""

from __future__ import annotations

import shutil
import subprocess
import sys

from hipercow_magic.core.checks import string_list
from hipercow_magic.core.errors import HipercowError
from hipercow_magic.drivers.base import ClusterInfo
from hipercow_magic.drivers.slurm import commands

OPTIONS = (
    "partition",
    "python",
    "preamble",
    "sbatch_args",
    "poll_interval",
    "account",
    "array_limit",
    "max_array_size",
)
DEFAULT_POLL_INTERVAL = 2.0


def poll_interval(config: dict) -> float:
    """The configured seconds between squeue calls (the default where none is saved)."""
    return float(config.get("poll_interval") or DEFAULT_POLL_INTERVAL)


def check_options(options: dict) -> dict:
    """The configuration to save for these options, or a HipercowError saying what is wrong.

    The partition is checked against the cluster separately (`check_partition`).
    """
    unknown = sorted(set(options) - set(OPTIONS))
    if unknown:
        raise HipercowError(
            f"Unknown option{'s' if len(unknown) > 1 else ''} for the slurm driver: "
            f"{', '.join(unknown)}\nValid options are: {', '.join(OPTIONS)}\n"
            "Other sbatch options go in sbatch_args, e.g. sbatch_args=['--qos=short']."
        )
    if not commands.available():
        raise HipercowError(
            "Slurm's commands (sbatch, squeue, scancel, sinfo, scontrol) are not on this "
            "machine's PATH.\nUse the slurm driver on the cluster's login node, or start the "
            "project's single-node Slurm with scripts/start-slurm.sh."
        )
    preamble = _lines(options.get("preamble"), "preamble")
    sbatch_args = _lines(options.get("sbatch_args"), "sbatch_args")
    for arg in sbatch_args:
        if not arg.startswith("-"):
            raise HipercowError(
                f"Invalid sbatch argument '{arg}': each entry is one option such as "
                "'--qos=short' (it becomes an '#SBATCH' line)"
            )
    poll = options.get("poll_interval")
    if poll is not None and (
        isinstance(poll, bool) or not isinstance(poll, (int, float)) or poll <= 0
    ):
        raise HipercowError(f"'poll_interval' must be a positive number of seconds, not {poll!r}")
    for name in ("array_limit", "max_array_size"):
        value = options.get(name)
        if value is not None and (
            isinstance(value, bool) or not isinstance(value, int) or value <= 0
        ):
            raise HipercowError(f"'{name}' must be a positive integer, not {value!r}")
    for name in ("partition", "account"):
        value = options.get(name)
        if value is not None and (not isinstance(value, str) or not value.strip()):
            raise HipercowError(f"'{name}' must be a non-empty string, not {value!r}")
    python, versions = check_python(options.get("python"), preamble)
    return {
        "partition": options.get("partition"),
        "python": python,
        "preamble": preamble,
        "sbatch_args": sbatch_args,
        "poll_interval": float(poll) if poll is not None else DEFAULT_POLL_INTERVAL,
        "account": options.get("account"),
        "array_limit": options.get("array_limit"),
        "max_array_size": options.get("max_array_size"),
        **versions,
    }


def check_partition(info: ClusterInfo, partition: str) -> None:
    """A HipercowError unless the cluster has this partition."""
    if partition not in info.queue_names:
        raise HipercowError(
            f"The partition '{partition}' does not exist on this cluster.\n"
            f"Available: {', '.join(info.queue_names)}."
        )


def check_python(python, preamble: list[str]) -> tuple[str, dict]:
    """The Python the nodes run, and (when it can be asked here) its versions.

    Args:
        python: the interpreter's path or name; None for this one.
        preamble: the script lines before it runs; with any, the Python is not looked for
            here (module loads or activations decide what the nodes find).

    Returns:
        The interpreter (its full path when found here), and `python_version` and
        `cloudpickle_version` where it could be asked.
    """
    if python is None:
        python = sys.executable
    if not isinstance(python, str) or not python.strip():
        raise HipercowError(
            f"'python' must be the path or name of a Python interpreter, not {python!r}"
        )
    if preamble:
        return python, {}  # the preamble (module load, activation) decides what it finds
    found = shutil.which(python)
    if not found:
        raise HipercowError(
            f"The Python '{python}' was not found here.\nGive the full path of the interpreter "
            "the nodes should run, or set 'preamble' to the lines that make it available."
        )
    probe = (
        "import sys, cloudpickle, hipercow_magic;"
        "print(f'{sys.version_info[0]}.{sys.version_info[1]}', cloudpickle.__version__)"
    )
    proc = subprocess.run(
        [found, "-c", probe], capture_output=True, text=True, timeout=60, check=False
    )
    if proc.returncode != 0:
        raise HipercowError(
            f"The Python '{python}' cannot run hipercow-magic:\n{proc.stderr.strip()}\n"
            "Install hipercow-magic into that environment, or choose another 'python'."
        )
    version, cp_version = proc.stdout.split()
    return found, {"python_version": version, "cloudpickle_version": cp_version}


def _lines(value, name: str) -> list[str]:
    """A string or list of strings as a list, without blank entries."""
    return [v for v in string_list(value, name) or [] if v.strip()]
