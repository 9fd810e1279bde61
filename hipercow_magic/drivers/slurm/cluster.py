"""The Slurm cluster's description: nodes, partitions and limits from sinfo and scontrol."""

from __future__ import annotations

import time

from hipercow_magic.core.errors import HipercowError
from hipercow_magic.drivers.base import ClusterInfo, NodeInfo, QueueInfo
from hipercow_magic.drivers.slurm import commands, parse
from hipercow_magic.drivers.slurm.commands import SlurmUnavailable

CLUSTER_INFO_TTL = 60.0  # seconds a description is reused before Slurm is asked again


class ClusterCache:
    """The cluster's description and settings, asked of Slurm at most once a minute."""

    def __init__(self):
        self._cached: tuple[float, ClusterInfo, dict] | None = None

    def get(self, config: dict) -> tuple[ClusterInfo, dict]:
        """The cluster (as `describe` gives it), from the cache while it is fresh.

        Args:
            config: the driver's configuration (its partition becomes the default queue).

        Returns:
            The description, and the settings the driver needs (see `describe`).
        """
        cached = self._cached
        if cached and time.monotonic() - cached[0] < CLUSTER_INFO_TTL:
            return cached[1], cached[2]
        try:
            nodes_text = commands.run(["sinfo", "-h", "-N", "-o", "%N|%c|%m|%T|%P|%G"]).stdout
            parts_text = commands.run(["scontrol", "show", "partition", "-o"]).stdout
            config_text = commands.run(["scontrol", "show", "config"]).stdout
        except SlurmUnavailable as e:
            raise HipercowError(f"Could not read the Slurm cluster's description.\n{e}") from None
        info, settings = describe(nodes_text, parts_text, config_text, config)
        self._cached = (time.monotonic(), info, settings)
        return info, settings


def describe(
    nodes_text: str, parts_text: str, config_text: str, config: dict
) -> tuple[ClusterInfo, dict]:
    """The cluster from Slurm's own words.

    Args:
        nodes_text: `sinfo -h -N -o '%N|%c|%m|%T|%P|%G'` output (GPUs from its Gres).
        parts_text: `scontrol show partition -o` output.
        config_text: `scontrol show config` output.
        config: the driver's configuration (partition, python_version).

    Returns:
        The description, and the settings the driver needs besides: `max_array_size`,
        `slurm_version`, `accounting`, `jobcomp_type` and `jobcomp_file` (also in its extra).
    """
    rows = parse.sinfo_nodes(nodes_text)
    settings = parse.config(config_text)
    partitions = parse.partitions(parts_text)
    nodes: dict[str, NodeInfo] = {}
    members: dict[str, list[str]] = {}
    default = None
    for row in rows:
        if row.name not in nodes:
            mem = row.memory_mb // 1024 if row.memory_mb else None
            gpus, gpu_types = parse.gres_gpus(row.gres)
            nodes[row.name] = NodeInfo(row.name, row.cpus, mem, row.state, gpus, gpu_types)
        members.setdefault(row.partition, []).append(row.name)
        if row.default:
            default = row.partition
    for name, kv in partitions.items():
        members.setdefault(name, [])
        if kv.get("Default") == "YES" and default is None:
            default = name
    queues = []
    chosen = config.get("partition") or default or next(iter(members), "")
    for name, node_names in members.items():
        limit = parse.minutes(partitions.get(name, {}).get("MaxTime"))
        queues.append(QueueInfo(name, sorted(set(node_names)), limit, name == chosen))
    max_array = settings.get("MaxArraySize", "1001")
    extra = {
        "max_array_size": int(max_array) if max_array.isdigit() else 1001,
        "slurm_version": settings.get("SLURM_VERSION"),
        "accounting": settings.get("AccountingStorageType"),
        "jobcomp_type": settings.get("JobCompType"),
        "jobcomp_file": settings.get("JobCompLoc"),
    }
    info = ClusterInfo(
        driver="slurm",
        name=settings.get("ClusterName", "slurm"),
        nodes=list(nodes.values()),
        queues=queues,
        default_queue=chosen,
        python_version=config.get("python_version"),
        extra=extra,
    )
    return info, extra
