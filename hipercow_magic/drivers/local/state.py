"""What the local scheduler's state file says of its queued tasks: each one's place in the
queue, the code of why it waits and the words for it, and when a held one starts.
"""

from __future__ import annotations

from hipercow_magic.drivers.local.placement import VirtualCluster, order
from hipercow_magic.drivers.local.waiting import waiting_words

RESOURCE_KEYS = (
    "cores",
    "exclusive",
    "memory_per_node",
    "memory_per_process",
    "queue",
    "gpus",
    "gpu_type",
)


def pending_state(
    cluster: VirtualCluster,
    queued: dict,
    codes: dict[str, str],
    reserved: set[str],
    now: float,
) -> dict[str, dict]:
    """The queued tasks by id: `position` (1 = next), `reason` (a code as Slurm's:
    'Dependency', 'BeginTime', 'Priority' or 'Resources'), `reason_words` and, for a held
    task, `estimated_start` (when its hold ends).

    Tasks of one request share their words (worked out once), so a long queue costs little.

    Args:
        cluster: the virtual cluster, as its nodes are taken now.
        queued: the queue entries by key (`Queue`).
        codes: the reasons the last placement gave (tasks it did not reach have none).
        reserved: the nodes the last placement kept free for a task wanting a whole node.
        now: the time (epoch seconds).
    """
    pending: dict[str, dict] = {}
    words: dict[tuple, str] = {}
    ahead = 0  # tasks of normal priority waiting for resources, so far in the order
    for position, key in enumerate(order(queued), start=1):
        entry = queued[key]
        low = entry.get("priority") == "low"
        hold = entry.get("hold_until") or 0
        if entry.get("after"):
            code = "Dependency"
        elif hold > now:
            code = "BeginTime"
        else:
            code = codes.get(entry["id"])
            if code not in ("Resources", "Priority"):
                code = "Priority" if low and ahead else "Resources"
            if not low:
                ahead += 1
        signature = (
            code,
            len(entry.get("after") or ()),
            hold,
            ahead if code == "Priority" else 0,
            tuple(entry.get("requested_nodes") or ()),
            *(entry.get(k) for k in RESOURCE_KEYS),
        )
        if signature not in words:
            words[signature] = waiting_words(cluster, entry, code, now, ahead, reserved)
        row = {"position": position, "reason": code, "reason_words": words[signature]}
        if code == "BeginTime":
            row["estimated_start"] = hold
        pending[entry["id"]] = row
    return pending
