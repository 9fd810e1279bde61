"""Why a task waits on the local driver's virtual cluster, in words ("waiting for 2 free
cores: 16 of 16 in use", "waiting for 2 free GPUs on gpu-3, gpu-4: 4 of 4 in use"), and the
requests no node of it can ever run.

Pure accounting over `VirtualCluster` (no files, no processes); the scheduler writes the
words into its state file, and the driver refuses what can never run before queueing it.
"""

from __future__ import annotations

from hipercow_magic.core.format import clock_time
from hipercow_magic.drivers.local.placement import Node, VirtualCluster, demand, gpu_demand


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


def never_fits(cluster: VirtualCluster, entry: dict) -> str | None:
    """Why no node the task may use could ever run it (naming the limit), or None.

    Args:
        cluster: the virtual cluster.
        entry: the task's resources as `Resources.to_dict()` gives them.
    """
    cores, needed, whole = demand(entry)
    gpus, gpu_type = gpu_demand(entry)
    names = cluster.candidates(entry)
    nodes = [cluster.nodes[n] for n in names]
    if not nodes:
        return "no node is in both its queue and the nodes it requested"
    if any(
        n.cores >= cores and (not n.memory or needed <= n.memory) and n.has_gpus(gpus, gpu_type)
        for n in nodes
    ):
        return None
    place = _place(cluster, entry, names)
    where = f"{place or 'the node'} {'has' if place is None or len(names) == 1 else 'have'}"
    if gpus and not any(n.has_gpus(gpus, gpu_type) for n in nodes):
        return _no_gpus(nodes, gpus, gpu_type, where)
    nodes = [n for n in nodes if n.has_gpus(gpus, gpu_type)]
    most_cores = max(n.cores for n in nodes)
    if not any(n.cores >= cores for n in nodes):
        return f"it asks for {_plural(cores, 'core')} and {where} {most_cores} at most"
    most_memory = max(n.memory for n in nodes if n.cores >= cores)
    asked = (
        f"{entry['memory_per_process']} GB per process x {_plural(max(cores, 1), 'core')}"
        if not entry.get("memory_per_node") and entry.get("memory_per_process")
        else f"{needed} GB"
    )
    return f"it asks for {asked} of memory and {where} {most_memory} GB at most" + (
        "" if not whole else " (a whole node)"
    )


def _no_gpus(nodes: list[Node], gpus: int, gpu_type: str | None, where: str) -> str:
    """Why none of `nodes` has the GPUs a task asks for ('it asks for 3 GPUs and the nodes
    of queue fast have 2 at most').
    """
    if gpu_type is not None and any(n.gpus >= gpus for n in nodes):
        kinds = sorted({n.gpu_type for n in nodes if n.gpu_type and n.gpus >= gpus})
        named = f"GPUs of type {', '.join(kinds)}" if kinds else "GPUs of no named type"
        return f"it asks for GPUs of type '{gpu_type}' and {where} {named}"
    most = max(n.gpus for n in nodes)
    return f"it asks for {_plural(gpus, 'GPU')} and {where} " + (
        f"{most} at most" if most else "none"
    )


def _place(cluster: VirtualCluster, entry: dict, names: list[str]) -> str | None:
    """The nodes a task may use, in words ('node-2 (requested)', 'the nodes of queue
    alltasks'); None on a one-node cluster.
    """
    if entry.get("requested_nodes"):
        if len(names) == 1:
            return f"{names[0]} (requested)"
        return f"the nodes it requested ({', '.join(names)})"
    if len(cluster.nodes) == 1:
        return None
    if len(names) == 1:
        return names[0]
    return f"the nodes of queue {entry.get('queue') or cluster.default_queue}"


def waiting_words(
    cluster: VirtualCluster,
    entry: dict,
    code: str,
    now: float,
    ahead: int = 0,
    reserved: set[str] | frozenset = frozenset(),
) -> str:
    """Why a queued task waits, as a sentence.

    Args:
        cluster: the virtual cluster, its nodes' cores and memory as they are taken now.
        entry: the task's queue entry (its resources, `after`, `hold_until`).
        code: the reason's code ('Dependency', 'BeginTime', 'Priority' or 'Resources').
        now: the time (epoch seconds) the hold is shown against.
        ahead: for 'Priority', how many tasks of higher priority wait ahead of it.
        reserved: nodes kept free for a task ahead wanting a whole node.
    """
    if code == "Dependency" and entry.get("after"):
        return f"waiting for {_plural(len(entry['after']), 'task')} it depends on to succeed"
    if code == "BeginTime" and entry.get("hold_until"):
        return f"held until {clock_time(entry['hold_until'], now)}"
    if code == "Priority" and ahead:
        return f"waiting behind {_plural(ahead, 'task')} of higher priority"
    words = resources_words(cluster, entry, reserved)
    return f"passed over for tasks of higher priority, {words}" if code == "Priority" else words


def resources_words(
    cluster: VirtualCluster, entry: dict, reserved: set[str] | frozenset = frozenset()
) -> str:
    """'waiting for 2 free cores: 16 of 16 in use' (or GPUs, memory, a whole node, the nodes
    it requested, a node kept for a task ahead) for a task that fits no node now.
    """
    cores, needed, whole = demand(entry)
    gpus, gpu_type = gpu_demand(entry)
    names = cluster.candidates(entry)
    nodes = [cluster.nodes[n] for n in names]
    place = _place(cluster, entry, names)
    if gpus:  # only the nodes with such GPUs can run it: they are named
        nodes = [n for n in nodes if n.has_gpus(gpus, gpu_type)]
        place = ", ".join(n.name for n in nodes) if nodes else place
    on = f" on {place}" if place else ""
    if whole:
        busy = [n for n in nodes if n.tasks]
        if len(nodes) == 1:
            return (
                f"waiting for {nodes[0].name} to be free: "
                f"{_plural(len(nodes[0].tasks), 'task')} running there"
            )
        return f"waiting for a whole node: {len(busy)} of the {len(nodes)} it may use run tasks"
    free = [n for n in nodes if n.name not in reserved]
    if nodes and not free:
        kept = ", ".join(n.name for n in nodes)
        return f"waiting: {kept} kept free for a task ahead that needs a whole node"
    if gpus and not any(_free_gpus(n) >= gpus for n in free):
        used = sum(n.gpus - _free_gpus(n) for n in nodes)
        total = sum(n.gpus for n in nodes)
        return f"waiting for {_plural(gpus, 'free GPU')}{on}: {used} of {total} in use"
    if not any(_free_cores(n) >= cores and _free_gpus(n) >= gpus for n in free):
        used = sum(n.cores - _free_cores(n) for n in nodes)
        total = sum(n.cores for n in nodes)
        return f"waiting for {_plural(cores, 'free core')}{on}: {used} of {total} in use"
    if needed and not any(
        _free_cores(n) >= cores
        and _free_gpus(n) >= gpus
        and (not n.memory or needed <= n.free_memory)
        for n in free
    ):
        with_memory = [n for n in nodes if n.memory]
        used = sum(n.memory - n.free_memory for n in with_memory)
        total = sum(n.memory for n in with_memory)
        return f"waiting for {needed} GB of free memory{on}: {used} of {total} GB in use"
    return "waiting for its turn: the tasks ahead of it are being placed"


def _free_gpus(node: Node) -> int:
    return 0 if node.whole else len(node.free_gpus)


def _free_cores(node: Node) -> int:
    return 0 if node.whole else len(node.free_slots)
