"""Retrying tasks: new tasks that point at the original, chained so lookups can follow."""

from __future__ import annotations

import os
import time

from hipercow_magic.core import store
from hipercow_magic.core.errors import HipercowError
from hipercow_magic.core.resources import Resources
from hipercow_magic.core.root import check_task_id
from hipercow_magic.core.status import TERMINAL
from hipercow_magic.core.task import new_id, read_data
from hipercow_magic.drivers.registry import select_driver
from hipercow_magic.engine.submit import submit_tasks


def _retry_file(root) -> str:
    return os.path.join(root.hipercow, "retry")


def read_retry_map(root) -> list[tuple[str, str, str]]:
    """The root's retry chains as rows of (id, parent, base)."""
    text = store.read_text_or(_retry_file(root), "")
    return [tuple(line.split(",")) for line in text.splitlines() if line.count(",") == 2]


def follow_ids(root, ids: list[str]) -> list[str]:
    """Map each id to the newest task of its retry chain."""
    rows = read_retry_map(root)
    if not rows:
        return ids
    newest: dict[str, str] = {}
    for task_id, _, base in rows:
        newest[base] = task_id
    base_of = {task_id: base for task_id, _, base in rows}
    return [newest.get(base_of.get(i, i), i) for i in ids]


def follow_one(root, task_id, follow: bool = True) -> str:
    """A task id (or a Task handle's) checked; with `follow`, the newest task of its chain."""
    task_id = check_task_id(task_id)
    return follow_ids(root, [task_id])[0] if follow else task_id


def retry_chain(root, task_id: str) -> list[str] | None:
    """[base, first retry, second retry, ...] for a task in a chain, else None."""
    rows = read_retry_map(root)
    base_of = {t: b for t, _, b in rows}
    base = base_of.get(task_id, task_id)
    chain = [t for t, _, b in rows if b == base]
    return [base] + chain if chain else None


def retry_tasks(root, ids: list[str], statuses: list[str | None], driver, resources) -> list[str]:
    """Create (and submit) one retry per task; every task must have finished."""
    bad = [(i, s) for i, s in zip(ids, statuses) if s not in TERMINAL]
    if bad:
        n = len(bad)
        lines = [
            f"{n} task{'s' if n > 1 else ''} do{'' if n > 1 else 'es'} not have terminal status"
        ]
        lines += [f"✖ {i}: {s}" for i, s in bad[:5]]
        if n > 5:
            lines.append(f"ℹ ...and {n - 5} other tasks")
        raise HipercowError("\n".join(lines))
    name = select_driver(root, driver)
    rows = read_retry_map(root)
    base_of = {t: b for t, _, b in rows}
    newest = follow_ids(root, ids)
    new_ids = []
    lines = []
    for task_id, parent in zip(ids, newest):
        base = base_of.get(task_id, task_id)
        base_data = read_data(root, base)
        new = new_id()
        data = {
            k: base_data.get(k)
            for k in (
                "environment",
                "envvars",
                "parallel",
                "resources",
                "path",
                "name",
                "python_version",
                "cloudpickle_version",
                "hipercow_version",
            )
        }
        data.update(
            id=new, type="retry", parent=parent, base=base, created=time.time(), driver=name
        )
        os.makedirs(root.task_dir(new))
        store.write_json(root.task_file(new, "data.json"), data)
        lines.append(f"{new},{parent},{base}\n")
        new_ids.append(new)
    with open(_retry_file(root), "a") as f:
        f.write("".join(lines))
    if name is not None:
        by_resources: dict[str, list[str]] = {}
        for new in new_ids:
            res = resources or Resources.from_dict(read_data(root, new).get("resources"))
            by_resources.setdefault(repr(res), []).append(new)
        for group in by_resources.values():
            res = resources or Resources.from_dict(read_data(root, group[0]).get("resources"))
            submit_tasks(root, group, name, res)
    return new_ids


def remove_from_retry_map(root, ids: set[str]) -> None:
    """Drop the rows of purged tasks from the retry map."""
    rows = read_retry_map(root)
    kept = [r for r in rows if r[0] not in ids]
    if len(kept) != len(rows):
        store.write_text(_retry_file(root), "".join(f"{a},{b},{c}\n" for a, b, c in kept))
