"""What the local scheduler accepts from its queue: batch files it can read, owned by its own
user, whose resources it can place; and tasks whose data.json its user owns.

Anything else is refused with a reason (the scheduler logs it, and fails the tasks it can
vouch for), so one bad file never stops the root.
"""

from __future__ import annotations

import json
import os
import re

from hipercow_magic.drivers.local import paths

TASK_ID = re.compile(r"\b[0-9a-f]{32}\b")


class Refused(Exception):
    """A queue file or task the scheduler will not run; the message says why."""


def task_ids_in(text: bytes) -> list[str]:
    """The ids of the tasks a (perhaps malformed) queue file submits, in order, without
    repeats: not those it waits for (`after`, written after the ids).
    """
    words = text.decode("utf-8", errors="replace").split('"after"')[0]
    return list(dict.fromkeys(TASK_ID.findall(words)))


def read_batch(root, stamp: str) -> tuple[dict | None, list[str]]:
    """A queue file's batch ({"resources", "ids"}, and "after": the tasks they wait for),
    checked; None when it is gone.

    Raises:
        Refused: the file belongs to another user, or is malformed; the ids it seems to
            name come with the error (`error.ids`), so their tasks can be told why.
    """
    path = paths.batch_file(root, stamp)
    try:
        with open(path, "rb") as f:
            owner = os.fstat(f.fileno()).st_uid
            text = f.read()
    except FileNotFoundError:
        return None, []
    ids = task_ids_in(text)
    if owner != os.geteuid():
        raise _refused(
            f"queue file {os.path.basename(path)} belongs to uid {owner}, not to this "
            f"scheduler's user (uid {os.geteuid()}), so it is not run",
            ids,
        )
    try:
        batch = json.loads(text)
        if not isinstance(batch, dict) or not isinstance(batch.get("ids"), list):
            raise ValueError("no list of task ids")
        for task_id in batch["ids"]:
            if not isinstance(task_id, str) or not TASK_ID.fullmatch(task_id):
                raise ValueError(f"{task_id!r} is not a task id")
        after = batch.get("after", [])
        if not isinstance(after, list):
            raise ValueError(f"'after' is {type(after).__name__}, not a list of task ids")
        for task_id in after:
            if not isinstance(task_id, str) or not TASK_ID.fullmatch(task_id):
                raise ValueError(f"{task_id!r} in 'after' is not a task id")
        check_resources(batch.get("resources"))
    except (ValueError, TypeError) as e:
        raise _refused(f"queue file {os.path.basename(path)} is malformed ({e})", ids) from None
    return batch, batch["ids"]


def _refused(message: str, ids: list[str]) -> Refused:
    error = Refused(message)
    error.ids = ids
    return error


def check_resources(res) -> None:
    """Raise ValueError unless `res` is a resources record the placement can use."""
    if not isinstance(res, dict):
        raise ValueError("no resources")
    cores = res.get("cores")
    if cores != "Inf" and (isinstance(cores, bool) or not isinstance(cores, (int, float))):
        raise ValueError(f"cores {cores!r}")
    if cores != "Inf" and int(cores) < 1:
        raise ValueError(f"cores {cores!r}")
    for key in ("memory_per_node", "memory_per_process", "max_runtime", "hold_until"):
        value = res.get(key)
        if value is not None and (isinstance(value, bool) or not isinstance(value, (int, float))):
            raise ValueError(f"{key} {value!r}")
    gpus = res.get("gpus")
    if gpus is not None and (isinstance(gpus, bool) or not isinstance(gpus, int) or gpus < 0):
        raise ValueError(f"gpus {gpus!r}")
    for key in ("queue", "priority", "gpu_type"):
        if res.get(key) is not None and not isinstance(res[key], str):
            raise ValueError(f"{key} {res[key]!r}")
    nodes = res.get("requested_nodes")
    if nodes is not None and not (
        isinstance(nodes, list) and all(isinstance(n, str) for n in nodes)
    ):
        raise ValueError(f"requested_nodes {nodes!r}")


def task_owner(root, task_id: str) -> int | None:
    """The uid owning the task's data.json, or None when the task folder is gone."""
    try:
        return os.stat(root.task_file(task_id, "data.json")).st_uid
    except FileNotFoundError:
        return None
