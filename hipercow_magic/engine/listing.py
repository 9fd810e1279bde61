"""Listing a root's tasks with filters, and purging finished ones."""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import fnmatch
import os
import re
import shutil
import time

from hipercow_magic.core.errors import HipercowError
from hipercow_magic.core.status import ACTIVE, TERMINAL
from hipercow_magic.core.task import collect_times, marker_status
from hipercow_magic.engine.bundles import bundle_list, bundle_load_ids
from hipercow_magic.engine.retry import read_retry_map, remove_from_retry_map
from hipercow_magic.engine.statuses import task_statuses

_AGO_RE = re.compile(r"^\s*([0-9]+)\s*(h|hours?|d|days?|w|weeks?)\s*$", re.IGNORECASE)


def all_task_ids(root) -> list[str]:
    """Every task id, newest first (by creation)."""
    found = []
    try:
        shards = os.listdir(root.tasks)
    except FileNotFoundError:
        return []
    for shard in shards:
        if len(shard) != 2:
            continue
        try:
            entries = list(os.scandir(os.path.join(root.tasks, shard)))
        except (FileNotFoundError, NotADirectoryError):
            continue
        for entry in entries:
            if len(entry.name) != 30:
                continue
            task_id = shard + entry.name
            created = root.created_cache.get(task_id)
            if created is None:
                try:
                    created = os.stat(os.path.join(entry.path, "data.json")).st_mtime
                except FileNotFoundError:
                    continue  # being written
                root.created_cache[task_id] = created
            found.append((created, task_id))
    found.sort(reverse=True)
    return [task_id for _, task_id in found]


def parse_finished_before(value) -> float:
    """An epoch time from a datetime, date, timedelta ('ago'), or '1h', '2 days', '3 weeks'."""
    now = time.time()
    if isinstance(value, dt.datetime):
        return value.timestamp()
    if isinstance(value, dt.date):
        return dt.datetime.combine(value, dt.time()).timestamp()
    if isinstance(value, dt.timedelta):
        return now - abs(value.total_seconds())
    if isinstance(value, str):
        m = _AGO_RE.match(value)
        if not m:
            raise HipercowError(
                f"Invalid string input for 'finished_before': '{value}'\n"
                "Use a number of hours, days or weeks, e.g. '1h', '2 days', '3 weeks'"
            )
        unit = m.group(2)[0].lower()
        return now - int(m.group(1)) * {"h": 3600, "d": 86400, "w": 604800}[unit]
    raise HipercowError(
        f"Unsupported input for 'finished_before': {value!r}\n"
        "Use a datetime, a timedelta, or a string such as '2 days'"
    )


def list_tasks(
    root, with_status=None, in_bundle=None, finished_before=None, task_ids=None
) -> list[str]:
    """Task ids (`task_ids`, or all of the root's, newest first) kept by every filter given:
    status(es), bundle name glob(s), and finished before a time (see parse_finished_before).
    """
    ids = list(task_ids) if task_ids is not None else all_task_ids(root)
    if in_bundle is not None:
        patterns = [in_bundle] if isinstance(in_bundle, str) else list(in_bundle)
        names = [b for b in bundle_list(root) if any(fnmatch.fnmatch(b, p) for p in patterns)]
        members = set()
        for name in names:
            members.update(bundle_load_ids(root, name))
        ids = [i for i in ids if i in members]
    if with_status is not None:
        wanted = {with_status} if isinstance(with_status, str) else set(with_status)
        ids = [i for i, s in zip(ids, task_statuses(root, ids)) if s in wanted]
    if finished_before is not None:
        cutoff = parse_finished_before(finished_before)
        ids = [i for i in ids if (collect_times(root, i).get("finished") or float("inf")) < cutoff]
    return ids


@dataclasses.dataclass
class PurgePlan:
    """What a purge deletes: the tasks asked for, tasks of their retry chains, and bundles."""

    ids: list[str]
    chained: list[str]
    bundles: list[str]

    @property
    def all_ids(self) -> list[str]:
        """Every task the purge deletes."""
        return self.ids + self.chained


def purge_plan(root, task_ids, finished_before, in_bundle, with_status) -> PurgePlan:
    """hipercow_purge's rules: the tasks matching the filters, whole retry chains, and the
    bundles holding any of them; an error if a filter is missing or a task is still active.
    """
    if task_ids is None and finished_before is None and in_bundle is None and with_status is None:
        raise HipercowError(
            "No filter selected\nGive at least one of task_ids, "
            "finished_before, in_bundle or with_status"
        )
    if with_status is not None:
        wanted = [with_status] if isinstance(with_status, str) else list(with_status)
        bad = [s for s in wanted if s not in ("created", *TERMINAL)]
        if bad:
            quoted = " and ".join(f"'{s}'" for s in bad)
            raise HipercowError(
                f"Cannot purge tasks with status{'es' if len(bad) > 1 else ''}: {quoted}"
            )
    ids = list_tasks(root, with_status, in_bundle, finished_before, task_ids)
    rows = read_retry_map(root)
    chain_members = set(ids)
    bases = {b for t, _, b in rows if t in chain_members} | (
        chain_members & {b for _, _, b in rows}
    )
    extra = ({t for t, _, b in rows if b in bases} | bases) - set(ids)
    plan = PurgePlan(ids, sorted(extra), [])
    if any(marker_status(root, i) in ACTIVE for i in plan.all_ids):
        raise HipercowError(
            "Can't purge; some tasks are submitted or running\n"
            "Cancel them or wait for them to finish first."
        )
    doomed = set(plan.all_ids)
    plan.bundles = [b for b in bundle_list(root) if doomed & set(bundle_load_ids(root, b))]
    return plan


def purge_apply(root, plan: PurgePlan) -> None:
    """Delete what `purge_plan` chose: task folders, bundles and retry-map rows."""
    for task_id in plan.all_ids:
        shutil.rmtree(root.task_dir(task_id), ignore_errors=True)
        root.terminal_cache.pop(task_id, None)
        root.created_cache.pop(task_id, None)
    for name in plan.bundles:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(os.path.join(root.bundles, name))
    remove_from_retry_map(root, set(plan.all_ids))
