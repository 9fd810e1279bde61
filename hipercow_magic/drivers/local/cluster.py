"""The local driver's virtual cluster: nodes with cores, memory and GPUs, and queues over
them.
"""

from __future__ import annotations

import os
import subprocess

import psutil

from hipercow_magic.core.errors import HipercowError
from hipercow_magic.core.versions import python_version
from hipercow_magic.drivers.base import ClusterInfo, NodeInfo, QueueInfo

EXAMPLE = {
    "name": "example",
    "nodes": [
        {"name": "node-1", "cores": 4, "memory": 4},
        {"name": "node-2", "cores": 4, "memory": 4},
        {"name": "gpu-3", "cores": 4, "memory": 4, "gpus": 2},
        {"name": "gpu-4", "cores": 4, "memory": 4, "gpus": 2},
    ],
    "queues": [
        {"name": "alltasks", "nodes": ["node-1", "node-2", "gpu-3", "gpu-4"], "default": True},
        {"name": "bigmem", "nodes": ["node-1", "node-2"]},
        {"name": "fast", "nodes": ["gpu-3", "gpu-4"]},
    ],
}


NVIDIA_SMI_TIMEOUT = 5  # seconds `nvidia-smi -L` may take to list the machine's GPUs


def machine_gpus() -> int:
    """How many NVIDIA GPUs `nvidia-smi -L` lists (0 when it is absent, fails or hangs)."""
    try:
        listed = subprocess.run(
            ["nvidia-smi", "-L"],
            capture_output=True,
            text=True,
            timeout=NVIDIA_SMI_TIMEOUT,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return 0
    if listed.returncode != 0:
        return 0
    return sum(1 for line in listed.stdout.splitlines() if line.startswith("GPU "))


def machine_cluster() -> dict:
    """One node with this machine's cores, memory and NVIDIA GPUs; one queue."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    memory = max(1, psutil.virtual_memory().total // 1_000_000_000)
    node = {"name": "localhost", "cores": cores, "memory": int(memory)}
    gpus = machine_gpus()
    if gpus:
        node["gpus"] = gpus
    return {
        "name": "local",
        "nodes": [node],
        "queues": [{"name": "default", "nodes": ["localhost"], "default": True}],
    }


def cluster_spec(cluster=None, nodes=None, queues=None) -> dict:
    """A checked cluster description: a preset name, or nodes and queues the user describes."""
    if nodes is not None:
        spec = {"name": cluster or "custom", "nodes": nodes, "queues": queues}
    elif cluster in (None, "local", "machine"):
        spec = machine_cluster()
    elif cluster == "example":
        spec = EXAMPLE
    else:
        raise HipercowError(
            f"Unknown local cluster '{cluster}'\n"
            "Use cluster='example' (the seed's 4-node cluster), leave it unset for this "
            "machine, or describe nodes=[{'name':..., 'cores':..., 'memory':...}] (and "
            "'gpus', 'gpu_type' for nodes with GPUs) and queues."
        )
    return _check(spec)


def _check(spec: dict) -> dict:
    nodes = spec.get("nodes")
    if not nodes or not isinstance(nodes, list):
        raise HipercowError("A local cluster needs at least one node")
    names = []
    for n in nodes:
        if not isinstance(n, dict) or not isinstance(n.get("name"), str):
            raise HipercowError(
                f"Invalid node {n!r}: expected {{'name': str, 'cores': int, 'memory': GB}}}}"
            )
        cores, memory = n.get("cores"), n.get("memory", 0)
        if not isinstance(cores, int) or cores < 1:
            raise HipercowError(f"Node '{n['name']}' needs a positive integer of 'cores'")
        if not isinstance(memory, int) or memory < 0:
            raise HipercowError(f"Node '{n['name']}' needs 'memory' as whole gigabytes")
        _check_gpus(n)
        names.append(n["name"])
    queues = spec.get("queues") or [{"name": "default", "nodes": names, "default": True}]
    for q in queues:
        unknown = [x for x in q.get("nodes", []) if x not in names]
        if unknown:
            raise HipercowError(f"Queue '{q.get('name')}' names unknown nodes: {unknown}")
        q.setdefault("nodes", names)
    if not any(q.get("default") for q in queues):
        queues[0]["default"] = True
    return {"name": spec.get("name", "custom"), "nodes": nodes, "queues": queues}


def _check_gpus(node: dict) -> None:
    """Refuse a node's GPUs unless a whole number (0 or more) and a type named by a word."""
    gpus, kind = node.get("gpus", 0), node.get("gpu_type")
    if isinstance(gpus, bool) or not isinstance(gpus, int) or gpus < 0:
        raise HipercowError(
            f"Node '{node['name']}' has 'gpus' {gpus!r}: give how many GPUs it has (0 or more)"
        )
    if kind is not None and (not isinstance(kind, str) or not kind.strip() or not gpus):
        raise HipercowError(
            f"Node '{node['name']}' has 'gpu_type' {kind!r}: name the kind of its GPUs "
            "(e.g. 'a100'), and give it 'gpus' too"
        )


def cluster_info(spec: dict) -> ClusterInfo:
    """The cluster a checked description (`cluster_spec`) describes, as drivers report it."""
    queues = [
        QueueInfo(q["name"], list(q["nodes"]), q.get("max_runtime"), bool(q.get("default")))
        for q in spec["queues"]
    ]
    return ClusterInfo(
        driver="local",
        name=spec["name"],
        nodes=[
            NodeInfo(
                n["name"],
                n["cores"],
                n.get("memory"),
                gpus=n.get("gpus", 0),
                gpu_types=[n["gpu_type"]] if n.get("gpu_type") else [],
            )
            for n in spec["nodes"]
        ],
        queues=queues,
        default_queue=next(q.name for q in queues if q.default),
        python_version=python_version(),
    )
