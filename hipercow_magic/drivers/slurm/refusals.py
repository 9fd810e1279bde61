"""Asking Slurm, before submitting, whether it would ever run a request (`sbatch
--test-only`, with the very script sbatch would get), and its refusals in words that name
the limit.

The check is one call per submission, however many tasks it holds (a bundle's arrays share
their options), before the first real sbatch: what it catches mostly comes from what
hipercow can't see in sinfo (a partition's per-node limits, QOS, accounts, generic resources
and constraints in sbatch_args), and on a cluster that does not enforce partition limits at
submission (Slurm's default) such a job would otherwise be accepted and wait for ever.
"""

from __future__ import annotations

import math

from hipercow_magic.core.errors import HipercowError
from hipercow_magic.core.format import format_minutes
from hipercow_magic.core.resources import Resources
from hipercow_magic.drivers.base import ClusterInfo
from hipercow_magic.drivers.slurm import commands
from hipercow_magic.drivers.slurm.commands import SlurmUnavailable

TEST_ONLY = "sbatch --test-only"  # how the check is counted in commands.COUNTS


def check_runnable(script: str, resources: Resources, config: dict, info: ClusterInfo) -> None:
    """Ask Slurm whether it would ever run the job `script` describes; nothing is submitted.

    Raises:
        HipercowError: Slurm would not run it (the message names the limit, with Slurm's
            own words), or Slurm could not be asked.
    """
    try:
        proc = commands.run(
            ["sbatch", "--test-only"], check=False, input=script, count_as=TEST_ONLY
        )
    except SlurmUnavailable as e:
        raise HipercowError(f"Could not submit to Slurm: {e}") from None
    if proc.returncode == 0:
        return
    said = proc.stderr.strip() or proc.stdout.strip() or "(no message)"
    raise HipercowError(
        f"Slurm would never run this job: {refusal_words(said, resources, config, info)}.\n"
        f"Slurm said: {said}\n"
        "Nothing was submitted; change the request (see hipercow_cluster_info()) and submit "
        "again."
    )


def refusal_words(said: str, resources: Resources, config: dict, info: ClusterInfo) -> str:
    """Slurm's refusal of a request (`said`) as the limit it breaks, in hipercow's terms."""
    r = resources
    queue = r.queue or config.get("partition") or info.default_queue
    try:
        nodes = [n for n in info.nodes if n.name in info.queue(queue).nodes]
    except KeyError:
        nodes = []
    text = said.lower()
    cores = "a whole node" if r.cores == math.inf else f"{int(r.cores)} cores"
    if "more processors requested than permitted" in text:
        most = max((n.cores for n in nodes), default=0)
        return f"it asks for {cores} and the nodes of partition {queue} have {most} at most"
    if "requested node configuration is not available" in text:
        return f"no node of partition {queue} has {_asked(r)}; {_largest(nodes)}"
    if "time limit" in text:
        limit = info.queue_max_runtime(queue)
        if r.max_runtime is not None and limit is not None:
            return (
                f"a max_runtime of {format_minutes(r.max_runtime)} is longer than partition "
                f"{queue} allows ({format_minutes(limit)})"
            )
        return f"its time limit is over a limit of partition {queue}, its QOS or account"
    if "accounting/qos policy" in text:
        return "it breaks a limit of its account or QOS (job size or time limit)"
    if "account" in text:
        account = config.get("account") or "its account"
        return f"{account} may not submit to partition {queue}"
    if "qos" in text:
        return "sbatch_args name a QOS this account may not use, or one whose limits it breaks"
    if "partition" in text and "invalid" in text:
        return f"partition {queue} does not exist"
    if "invalid node name" in text or "requested nodes not in this partition" in text:
        wanted = ", ".join(r.requested_nodes or []) or "a node"
        return f"it requested {wanted}, not a node of partition {queue}"
    if "generic resource" in text or "gres" in text:
        if r.gpus:
            return f"no node of partition {queue} has {_asked(r)}"
        return "sbatch_args ask for a generic resource (--gres) no node has"
    if "feature specification" in text:
        return "sbatch_args ask for a feature (--constraint) no node has"
    return said.splitlines()[-1].strip()


def _asked(r: Resources) -> str:
    """'4 cores and 60 GB of memory (15 GB per process)', as the request asks."""
    if r.cores == math.inf:
        asked = "a whole node"
    else:
        asked = f"{int(r.cores)} core{'s' if r.cores != 1 else ''}"
    if r.gpus:
        kind = f" of type {r.gpu_type}" if r.gpu_type else ""
        asked += f", {r.gpus} GPU{'s' if r.gpus != 1 else ''}{kind}"
    if r.memory_per_node is not None:
        return f"{asked} and {r.memory_per_node:g} GB of memory"
    if r.memory_per_process is not None and r.cores != math.inf:
        total = r.memory_per_process * int(r.cores)
        return f"{asked} and {total:g} GB of memory ({r.memory_per_process:g} GB per process)"
    return asked + " with the rest of what it asks for"


def _largest(nodes) -> str:
    """'the largest has 4 cores and 15 GB' (of the partition's nodes)."""
    if not nodes:
        return "it has no nodes"
    cores = max(n.cores for n in nodes)
    memory = [n.memory for n in nodes if n.memory is not None]
    mem = f" and {max(memory)} GB" if memory else ""
    return f"the largest has {cores} cores{mem}"
