"""Finding a root's tasks (task_list) and deleting finished ones (hipercow_purge)."""

from __future__ import annotations

from hipercow_magic.core.root import find_root
from hipercow_magic.engine.listing import list_tasks, purge_apply, purge_plan


def task_list(
    with_status=None, in_bundle=None, finished_before=None, task_ids=None, root=None
) -> list[str]:
    """The ids of the root's tasks, newest first, kept by every filter given.

    Args:
        with_status: only tasks with this status (or any of these statuses).
        in_bundle: only tasks in bundles whose names match this glob (or any of these globs).
        finished_before: only tasks that finished before this: a datetime, a timedelta ago,
            or a string such as '1h', '2 days', '3 weeks' (ago).
        task_ids: look only among these ids (default: every task of the root).
        root: the hipercow root (default: found from the working directory).

    Returns:
        The matching task ids.

    Raises:
        HipercowError: `finished_before` can't be understood.
    """
    return list_tasks(find_root(root), with_status, in_bundle, finished_before, task_ids)


def hipercow_purge(
    task_ids=None,
    finished_before=None,
    in_bundle=None,
    with_status=None,
    dry_run: bool = False,
    root=None,
) -> list[str]:
    """Delete finished tasks, with whole retry chains and the bundles holding them.

    Args:
        task_ids: ids (or handles) to delete.
        finished_before: only tasks that finished before this (a datetime, a timedelta ago,
            or '1h', '2 days', '3 weeks').
        in_bundle: only tasks in bundles whose names match this glob (or these globs).
        with_status: only tasks with this status (or these): created or a finished one.
        dry_run: say what would be deleted, delete nothing.
        root: the hipercow root (default: found from the working directory).

    Returns:
        The ids of the tasks deleted (or that would be).

    Raises:
        HipercowError: no filter was given, a status asked for can't be purged, or a task
            chosen is still submitted or running.
    """
    root = find_root(root)
    plan = purge_plan(root, task_ids, finished_before, in_bundle, with_status)
    if plan.chained:
        n = len(plan.chained)
        print(f"ℹ Also purging {n} task{'s' if n > 1 else ''} from retry chains")
    n = len(plan.all_ids)
    print(f"ℹ {'Would purge' if dry_run else 'Purging'} {n} task{'s' if n != 1 else ''}")
    if plan.bundles:
        n = len(plan.bundles)
        print(
            f"ℹ {'Would delete' if dry_run else 'Deleting'} {n} task bundle{'s' if n > 1 else ''}"
        )
    if not dry_run:
        purge_apply(root, plan)
    return plan.all_ids
