"""What surrounds a task's code on the node: its cores set, and its worker cluster when its
`parallel` spec names a method.

Kept apart from cluster.py so a task without a cluster loads nothing of it (no
multiprocessing, no workers, no joblib hooks): every Slurm task starts a fresh interpreter.
"""

from __future__ import annotations

import contextlib

from hipercow_magic.node.cores import cluster_shape, set_task_cores
from hipercow_magic.node.environment import load_environment


@contextlib.contextmanager
def task_context(root, data: dict, namespace: dict, task_id: str | None = None):
    """Set the task's cores before its code runs and, with a method, run its worker cluster.

    Args:
        root: the root the task belongs to.
        data: the task's data.json (its `parallel` spec and environment).
        namespace: the names the task's code will see (the workers start with a copy).
        task_id: the task's id (it names the worker processes).
    """
    cores = set_task_cores()
    spec = data.get("parallel") or {}
    if not spec.get("method"):
        yield
        return
    from hipercow_magic.node.cluster import running_cluster  # only a task with a cluster

    cores_per_process = spec.get("cores_per_process") or 1
    processes = cluster_shape(cores, cores_per_process)
    environment = spec.get("environment")
    if environment in (None, data.get("environment", "default")):
        setup = None  # the workers start as copies of this process, environment loaded
    else:

        def setup(worker_namespace: dict) -> None:
            load_environment(root, environment, worker_namespace)

    with running_cluster(processes, cores_per_process, namespace, setup, task_id):
        yield
