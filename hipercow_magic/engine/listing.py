"""Listing a root's tasks with filters, and purging finished ones."""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import fnmatch
import json
import os
import re
import shutil
import time

from hipercow_magic.core import store
from hipercow_magic.core.errors import HipercowError, warn
from hipercow_magic.core.status import ACTIVE, TERMINAL
from hipercow_magic.core.task import collect_times, marker_status, read_marker
from hipercow_magic.drivers.registry import load_driver
from hipercow_magic.engine.bundles import bundle_list, bundle_load_ids
from hipercow_magic.engine.retry import read_retry_map, remove_from_retry_map
from hipercow_magic.engine.statuses import task_statuses

_AGO_RE = re.compile(r"^\s*([0-9]+)\s*(h|hours?|d|days?|w|weeks?)\s*$", re.IGNORECASE)

# A task folder without data.json this long after its last change is listed as unreadable
# (younger ones are still being created: data.json is written last).
HALF_WRITTEN_AFTER = 60.0


def read_task_data(root, task_id: str) -> tuple[dict, str | None]:
    """The task's data.json and None, or ({}, a line saying why it can't be read)."""
    path = root.task_file(task_id, "data.json")
    try:
        data = store.read_json(path)
    except FileNotFoundError:
        return {}, "its data.json is missing (deleted, or left half-written)"
    except PermissionError:
        return {}, "its data.json can't be read (permission denied)"
    except UnicodeDecodeError:
        return {}, "its data.json is not text (the file is damaged)"
    except json.JSONDecodeError as e:
        return {}, f"its data.json is not valid JSON ({e.msg} at line {e.lineno})"
    except OSError as e:
        return {}, f"its data.json can't be read ({e.strerror or type(e).__name__})"
    if not isinstance(data, dict):
        return {}, f"its data.json holds a {type(data).__name__}, not a task's record"
    return data, None


def _has_marker(folder: str) -> bool:
    try:
        return any(name.startswith("status-") for name in os.listdir(folder))
    except OSError:
        return False


def _orphan_created(folder: str) -> float | None:
    """When a task folder without data.json was last changed, if it should be listed: it has
    a status marker (it was a task once) or nobody has written to it for a while.
    """
    try:
        changed = os.stat(folder).st_mtime
    except OSError:
        return None
    if _has_marker(folder) or time.time() - changed > HALF_WRITTEN_AFTER:
        return changed
    return None


def all_task_ids(root) -> list[str]:
    """Every task id, newest first (by creation); folders that lost their data.json too
    (see read_task_data), but not those still being created.
    """
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
                    created = _orphan_created(entry.path)
                    if created is None:
                        continue  # being written
                else:
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
            with contextlib.suppress(HipercowError):  # deleted since it was listed
                members.update(bundle_load_ids(root, name))
        ids = [i for i in ids if i in members]
    if with_status is not None:
        wanted = {with_status} if isinstance(with_status, str) else set(with_status)
        ids = [i for i, s in zip(ids, task_statuses(root, ids)) if s in wanted]
    if finished_before is not None:
        cutoff = parse_finished_before(finished_before)
        ids = [i for i in ids if (_finished_time(root, i) or float("inf")) < cutoff]
    return ids


def _finished_time(root, task_id: str) -> float | None:
    try:
        return collect_times(root, task_id).get("finished")
    except (OSError, ValueError):  # an unreadable task: see read_task_data
        return None


def task_times_or_none(root, task_id: str) -> dict:
    """collect_times, or every time None for a task whose files can't be read."""
    try:
        return collect_times(root, task_id)
    except (OSError, ValueError):
        return dict.fromkeys(("created", "submitted", "started", "finished"))


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


def _purge_elsewhere(root, ids: list[str]) -> None:
    """Tell each driver of these tasks that they are deleted (one call per driver); a
    driver that can't be reached keeps its copies, with a warning saying so.
    """
    by_driver: dict[str, list[str]] = {}
    for task_id in ids:
        name = read_marker(root, task_id, "submitted").get("driver")
        if name:
            by_driver.setdefault(name, []).append(task_id)
    for name, group in by_driver.items():
        try:
            load_driver(root, name).purge(group)
        except (HipercowError, OSError) as e:
            warn(f"The copies '{name}' keeps of {len(group)} purged task(s) remain: {e}")


def purge_apply(root, plan: PurgePlan) -> None:
    """Delete what `purge_plan` chose: task folders (and the copies their drivers keep
    elsewhere), bundles and retry-map rows.
    """
    _purge_elsewhere(root, plan.all_ids)
    for task_id in plan.all_ids:
        shutil.rmtree(root.task_dir(task_id), ignore_errors=True)
        root.terminal_cache.pop(task_id, None)
        root.created_cache.pop(task_id, None)
    for name in plan.bundles:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(os.path.join(root.bundles, name))
    remove_from_retry_map(root, set(plan.all_ids))
