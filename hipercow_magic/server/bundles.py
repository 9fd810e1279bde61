"""The panel's bundles for one root: a page of them, newest first, each with its size and
counts per status, and one bundle's tasks (the newest retry of each), by its rows.

A page's counts come from ONE status lookup for the tasks of every bundle on it.
"""

from __future__ import annotations

import time

from hipercow_magic import api
from hipercow_magic.core.errors import HipercowError
from hipercow_magic.engine.retry import follow_ids
from hipercow_magic.server.table import TaskTable, status_counts, with_clocks


def bundles_page(root, offset: int = 0, limit: int = 20) -> dict:
    """A page of the root's bundles, newest first: `bundles` (each: name, size, counts)
    and `total`, the number of bundles.
    """
    names = api.hipercow_bundle_list(root=root)
    loaded = []
    for name in names[offset : offset + limit]:
        try:
            loaded.append((name, api.hipercow_bundle_load(name, root=root).ids))
        except HipercowError:  # deleted since it was listed
            continue
    every = [i for _, ids in loaded for i in ids]
    statuses = api.task_status(every, follow=True, root=root) if every else []
    bundles, at = [], 0
    for name, ids in loaded:
        bundles.append(
            {"name": name, "size": len(ids), "counts": status_counts(statuses[at : at + len(ids)])}
        )
        at += len(ids)
    return {
        "now": time.time(),
        "total": len(names),
        "offset": offset,
        "limit": limit,
        "bundles": bundles,
    }


def bundle_tasks(
    table: TaskTable,
    root,
    name: str,
    statuses: list[str] | None = None,
    offset: int = 0,
    limit: int = 50,
) -> dict:
    """A page of one bundle's tasks in the bundle's order, each the newest retry of its
    row (its `original` id: the one the bundle lists), with the bundle's counts per status;
    `statuses` keeps only the tasks with one of them (`total` counts those).

    Raises:
        HipercowError: there is no such bundle (or its name is not one a bundle can have).
    """
    ids = api.hipercow_bundle_load(name, root=root).ids
    newest = follow_ids(root, ids)
    found = api.task_status(newest, follow=False, root=root)
    pairs = list(zip(ids, newest))
    if statuses:
        pairs = [p for p, s in zip(pairs, found) if s in statuses]
    shown = pairs[offset : offset + limit]
    now = time.time()
    rows = table.summaries(root, [n for _, n in shown])
    return {
        "name": name,
        "size": len(ids),
        "counts": status_counts(found),
        "now": now,
        "total": len(pairs),
        "offset": offset,
        "limit": limit,
        "tasks": [
            {**row, "original": original}
            for row, (original, _) in zip(with_clocks(rows, now), shown)
        ],
    }


def retry_failed(root, name: str) -> int:
    """Retry the bundle's failed and cancelled tasks; how many."""
    bundle = api.hipercow_bundle_load(name, root=root)
    count = sum(s in ("failure", "cancelled") for s in bundle.status())
    if count:
        bundle.retry()
    return count
