"""Retrying tasks: new tasks that point at the original, chained so lookups can follow."""

from __future__ import annotations

import fcntl
import os
import shutil
import time

from hipercow_magic.core import signing, store
from hipercow_magic.core.errors import HipercowError
from hipercow_magic.core.format import short_id
from hipercow_magic.core.resources import Resources
from hipercow_magic.core.root import check_task_id
from hipercow_magic.core.status import TERMINAL
from hipercow_magic.core.task import marker_status, new_id, read_data
from hipercow_magic.drivers.registry import select_driver
from hipercow_magic.engine.dependencies import depends_on, parent_problem
from hipercow_magic.engine.submit import submit_tasks


def _retry_file(root) -> str:
    """The retry map of roots made before one file per retry (read; rewritten by purge)."""
    return os.path.join(root.hipercow, "retry")


def _retry_dir(root) -> str:
    """One file per retried task, named by its id, holding 'new,base': made exclusively, so a
    task is retried once however many processes ask at once.
    """
    return os.path.join(root.hipercow, "retries")


_rows: dict[str, tuple[str, str, str]] = {}  # a retry file's row (they never change)


def _dir_rows(root) -> list[tuple[str, str, str]]:
    folder = _retry_dir(root)
    try:
        names = os.listdir(folder)
    except FileNotFoundError:
        return []
    rows = []
    for parent in names:
        if parent.startswith("."):
            continue
        path = os.path.join(folder, parent)
        row = _rows.get(path)
        if row is None:
            try:
                text = store.read_text_or(path) or ""
            except HipercowError:
                continue
            fields = text.strip().split(",")
            if len(fields) != 2:
                continue  # being written by hand, or not a retry
            row = _rows[path] = (fields[0], parent, fields[1])
        rows.append(row)
    return rows


def retry_of(root, task_id: str) -> str | None:
    """A task's own retry (the next task of its chain); None if it was not retried."""
    try:
        text = store.read_text_or(os.path.join(_retry_dir(root), task_id)) or ""
    except HipercowError:
        text = ""
    fields = text.strip().split(",")
    if len(fields) == 2:
        return fields[0]
    return next((new for new, parent, _ in read_retry_map(root) if parent == task_id), None)


def read_retry_map(root) -> list[tuple[str, str, str]]:
    """The root's retry chains as rows of (id, parent, base), each chain in order."""
    text = store.read_text_or(_retry_file(root), "")
    rows = [tuple(line.split(",")) for line in text.splitlines() if line.count(",") == 2]
    rows += _dir_rows(root)
    child = {parent: task_id for task_id, parent, _ in rows}
    ordered, seen = [], set()
    for _, parent, base in rows:
        if parent != base or base in seen:
            continue
        seen.add(base)
        at = base
        while at in child and len(ordered) <= len(rows):
            nxt = child[at]
            ordered.append((nxt, at, base))
            at = nxt
    return ordered


def _newest(child: dict[str, str], base: str) -> str:
    at, steps = base, 0
    while at in child and steps <= len(child):
        at, steps = child[at], steps + 1
    return at


def follow_ids(root, ids: list[str]) -> list[str]:
    """Map each id to the newest task of its retry chain."""
    rows = read_retry_map(root)
    if not rows:
        return ids
    child = {parent: task_id for task_id, parent, _ in rows}
    base_of = {task_id: base for task_id, _, base in rows}
    return [_newest(child, base_of.get(i, i)) for i in ids]


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


def _check_terminal(pairs: list[tuple[str, str | None]]) -> None:
    bad = [(i, s) for i, s in pairs if s not in TERMINAL]
    if bad:
        n = len(bad)
        lines = [
            f"{n} task{'s' if n > 1 else ''} do{'' if n > 1 else 'es'} not have terminal status"
        ]
        lines += [f"✖ {i}: {s}" for i, s in bad[:5]]
        if n > 5:
            lines.append(f"ℹ ...and {n - 5} other tasks")
        raise HipercowError("\n".join(lines))


def retry_tasks(
    root,
    ids: list[str],
    statuses: list[str | None],
    driver,
    resources,
    fields: list[dict] | None = None,
) -> list[str]:
    """Create (and submit) one retry per task; every task must have finished.

    A retry asks for what the newest task of its chain asked for (`resources` instead,
    when given) and keeps its retry policy; `fields`, one dict per task, are added to
    each retry's data (an automatic retry's grown resources and what caused it).

    A task is retried once: the retry is claimed by creating hipercow/retries/<parent>
    exclusively, so processes retrying one task at once make one retry (the others answer
    with it, or find the newest of the chain not finished).

    A retry depends on the newest task of each of its base's parents' retry chains (a
    parent retried in the same call: its new retry), and imports from those; a parent
    that failed or was cancelled (and is not retried with it) is an error, before anything
    is written.
    """
    _check_terminal(list(zip(ids, statuses)))
    name = select_driver(root, driver)
    rows = read_retry_map(root)
    base_of = {t: b for t, _, b in rows}
    newest = follow_ids(root, ids)
    # a chain retried since `statuses` were read ends in a task not finished yet
    _check_terminal([(p, marker_status(root, p)) for i, p in zip(ids, newest) if p != i])
    parents = _parents(root, [base_of.get(i, i) for i in ids], newest)
    new_ids = dict.fromkeys(ids)
    retried: dict[str, str] = {}  # newest task of a chain retried here -> its retry
    os.makedirs(_retry_dir(root), exist_ok=True)
    submit = []
    for k in _parents_first(newest, parents):
        task_id, parent = ids[k], newest[k]
        base = base_of.get(task_id, task_id)
        base_data = read_data(root, base)
        parent_data = base_data if parent == base else read_data(root, parent)
        new = new_id()
        data = {
            k: base_data.get(k)
            for k in (
                "environment",
                "envvars",
                "parallel",
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
        data["resources"] = parent_data.get("resources")
        if parent_data.get("retry_policy"):
            data["retry_policy"] = parent_data["retry_policy"]
        data.update(fields[k] if fields else {})
        data.update(_dependency_fields(base_data, parents[k], retried))
        os.makedirs(root.task_dir(new))
        try:
            store.write_json(root.task_file(new, "data.json"), signing.sign_record(data, new))
            won = store.link_exclusive(
                os.path.join(_retry_dir(root), parent), f"{new},{base}".encode()
            )
        except BaseException:
            shutil.rmtree(root.task_dir(new), ignore_errors=True)
            raise
        if not won:  # another process retried it first: that retry is this one
            shutil.rmtree(root.task_dir(new), ignore_errors=True)
            new = follow_ids(root, [parent])[0]
        else:
            submit.append(new)
        new_ids[task_id] = retried[parent] = new
    if name is not None:
        by_resources: dict[str, list[str]] = {}
        for new in submit:
            res = resources or Resources.from_dict(read_data(root, new).get("resources"))
            by_resources.setdefault(repr(res), []).append(new)
        for group in by_resources.values():
            res = resources or Resources.from_dict(read_data(root, group[0]).get("resources"))
            submit_tasks(root, group, name, res)
    return [new_ids[i] for i in ids]


def _parents(root, bases: list[str], newest: list[str]) -> list[list[str]]:
    """Each retry's parents: the newest task of each of its base's parents' chains; checked
    (one that failed, was cancelled or was never submitted must be retried with it).
    """
    retrying = set(newest)
    out = []
    for base in bases:
        given = depends_on(root, base)
        chosen = follow_ids(root, given) if given else []
        for parent in chosen:
            status = "submitted" if parent in retrying else marker_status(root, parent)
            problem = parent_problem(root, parent, status, f"the retry of {short_id(base)}")
            if problem:
                raise HipercowError(problem)
        out.append(chosen)
    return out


def _parents_first(newest: list[str], parents: list[list[str]]) -> list[int]:
    """The positions of the tasks to retry, each after those of its parents retried too."""
    where = {task_id: k for k, task_id in enumerate(newest)}
    order: list[int] = []
    placed: set[int] = set()

    def visit(k: int) -> None:
        if k not in placed:
            placed.add(k)
            for parent in parents[k]:
                if parent in where:
                    visit(where[parent])
            order.append(k)

    for k in range(len(newest)):
        visit(k)
    return order


def _dependency_fields(base_data: dict, parents: list[str], retried: dict[str, str]) -> dict:
    """A retry's depends_on and imports: its base's, each task replaced by the newest of its
    retry chain (or its retry made in this call).
    """
    if not parents:
        return {}
    chosen = [retried.get(p, p) for p in parents]
    fields = {"depends_on": chosen}
    imports = base_data.get("imports")
    if imports:
        newest = dict(zip(base_data["depends_on"], chosen))
        fields["imports"] = {name: newest.get(t, t) for name, t in imports.items()}
    return fields


def remove_from_retry_map(root, ids: set[str]) -> None:
    """Drop the rows of purged tasks from the retry map (their files; and lines of a map
    from before one file per retry, rewritten under a lock).
    """
    for task_id, parent, _ in _dir_rows(root):
        if task_id in ids:
            path = os.path.join(_retry_dir(root), parent)
            store.remove_file(path)
            _rows.pop(path, None)
    path = _retry_file(root)
    if not os.path.exists(path):
        return
    with open(path + ".lock", "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        text = store.read_text_or(path, "")
        rows = [tuple(line.split(",")) for line in text.splitlines() if line.count(",") == 2]
        kept = [r for r in rows if r[0] not in ids]
        if len(kept) != len(rows):
            store.write_text(path, "".join(f"{a},{b},{c}\n" for a, b, c in kept))
