"""Task statuses, cheap first: cached terminal states, marker files, then ONE driver call per
driver for the tasks still submitted or running; the driver a task was submitted to; and
watching statuses change (on the driver's events where it has them, else by polling).
"""

from __future__ import annotations

import os
import time

from hipercow_magic.core.errors import HipercowError, warn
from hipercow_magic.core.options import options
from hipercow_magic.core.status import ACTIVE, TERMINAL
from hipercow_magic.core.task import marker_status, read_marker, task_exists
from hipercow_magic.drivers.registry import load_driver
from hipercow_magic.engine.autoretry import retry_failed
from hipercow_magic.engine.dependencies import end_dependents, held_after
from hipercow_magic.engine.events import Changes, watch_changes
from hipercow_magic.engine.retry import follow_ids

FALLBACK = 1.0  # seconds between looks at every task while its driver tells of changes
MARKER_LOOK = 0.25  # seconds between looks at the markers of tasks whose driver can't tell


def submitted_driver(root, task_id: str):
    """The configured driver a task was submitted to, or None."""
    name = read_marker(root, task_id, "submitted").get("driver")
    if not name or root.driver_config(name) is None:
        return None
    return load_driver(root, name)


def check_exists(root, ids: list[str]) -> None:
    """Raise a HipercowError naming the first of `ids` that is not a task of this root."""
    for task_id in ids:
        if not task_exists(root, task_id):
            raise HipercowError(f"Task '{task_id}' does not exist in the root at '{root.path}'")


def task_statuses(root, ids: list[str], problems: list[str] | None = None) -> list[str | None]:
    """Cheap first: cached terminal states, marker files, then one driver call per driver.

    A queued task whose parents failed or were cancelled ends 'cancelled' with the reason
    before its driver is asked (which is then told to drop it), whatever the driver.
    A driver that can't be loaded leaves its tasks at their last known status and says why:
    appended to `problems` when a list is given, else as a HipercowWarning.
    A failed task whose retry policy covers its failure is retried here (once, whoever
    asks; see engine/autoretry.py), so anything that polls a root makes its retries; the
    status given is still its own ('failure'): lookups that follow chains see the retry.
    So are the tasks cancelled because they waited for it, waiting for its retry.
    """
    if os.environ.get("HIPERCOW_NO_DRIVERS") == "1":  # inside a task: markers only
        return [marker_status(root, i) for i in ids]
    out = _looked_up(root, ids, problems)
    if "failure" in out or "cancelled" in out:
        retry_failed(root, ids, out)
    return out


def _looked_up(root, ids: list[str], problems: list[str] | None) -> list[str | None]:
    """The statuses of `task_statuses`, before any retry is made."""
    out = [marker_status(root, i) for i in ids]
    active = [k for k, s in enumerate(out) if s in ACTIVE]
    if not active:
        return out
    by_driver: dict[str, list[int]] = {}
    held: dict[str, list[str]] = {}
    for k in active:
        marker = read_marker(root, ids[k], "submitted")
        name = marker.get("driver")
        if name is None:
            continue  # started before its submission was recorded; markers say running
        after = held_after(marker, out[k])
        if after:
            held[ids[k]] = after
        by_driver.setdefault(name, []).append(k)
    ended = end_dependents(root, held) if held else {}
    for name, positions in by_driver.items():
        dropped = [k for k in positions if ids[k] in ended]
        for k in dropped:
            out[k] = "cancelled"
        positions = [k for k in positions if ids[k] not in ended]
        try:
            driver = load_driver(root, name)
        except HipercowError as e:
            n = len(positions)
            problem = (
                f"Can't ask driver '{name}' about {n} task{'s' if n > 1 else ''}, so "
                f"{'they show their' if n > 1 else 'it shows its'} last known status: "
                + " ".join(str(e).split("\n"))
            )
            if problems is None:
                warn(problem)
            else:
                problems.append(problem)
            continue
        if dropped:
            _drop(driver, [ids[k] for k in dropped])
        if positions:
            for k, status in zip(positions, driver.status([ids[k] for k in positions])):
                out[k] = status
    return out


def _drop(driver, ids: list[str]) -> None:
    """Tell a driver to drop tasks already ended for their parents' ends (a job may still be
    queued there; one the scheduler dropped itself is no matter).
    """
    try:
        driver.cancel(ids)
    except (HipercowError, OSError) as e:
        warn(f"Tasks ended for their parents' ends could not be dropped by '{driver.name}': {e}")


def watch_statuses(root, ids: list[str], follow: bool = False, timeout=None, every=None):
    """Yield the statuses of `ids` now, then again each time they may have changed, until
    `timeout` passes (the generator then ends) or the caller stops asking.

    It subscribes to the root's changes before the first look, so nothing is missed. Where
    the tasks' driver tells of starts and ends (local), a task it names is looked at again
    at once, and every task at least every FALLBACK seconds, so a lost notice costs at most
    that. Where it can't (Slurm), every task is looked at with one batched query a poll,
    the pause growing from `options.poll_interval` to the driver's poll interval.

    Args:
        root: the root.
        ids: the tasks' ids.
        follow: each id stands for the newest task of its retry chain (a failure retried
            automatically, while watching, moves on to its retry).
        timeout: stop after this many seconds (None: never).
        every: look at every task at least this often (seconds).

    Yields:
        The statuses in the order of `ids` (a new list each time).
    """
    deadline = None if timeout is None else time.monotonic() + timeout
    with watch_changes(root) as changes:
        current = follow_ids(root, ids) if follow else list(ids)
        statuses = task_statuses(root, current)
        if follow and ("failure" in statuses or "cancelled" in statuses):
            _follow_retries(root, ids, current, statuses)
        delay = options.poll_interval
        while True:
            yield list(statuses)
            pause, delay = _pause(root, changes, current, statuses, delay)
            due = time.monotonic() + (pause if every is None else min(pause, every))
            if deadline is not None:
                if time.monotonic() >= deadline:
                    return
                due = min(due, deadline)
            positions = _heard(root, changes, current, statuses, due)
            if positions is None:
                current = follow_ids(root, ids) if follow else current
                statuses = task_statuses(root, current)
            else:
                for k, status in zip(
                    positions, task_statuses(root, [current[k] for k in positions])
                ):
                    statuses[k] = status
            if follow and ("failure" in statuses or "cancelled" in statuses):
                _follow_retries(root, ids, current, statuses)


def _follow_retries(root, ids: list[str], current: list[str], statuses: list) -> None:
    """Move `current` (and `statuses`) on to the retries of failed tasks made since (an
    automatic retry is made by the lookup that first sees its task failed).
    """
    newest = follow_ids(root, ids)
    moved = [k for k, (old, new) in enumerate(zip(current, newest)) if old != new]
    for k, status in zip(moved, task_statuses(root, [newest[k] for k in moved])):
        current[k], statuses[k] = newest[k], status


def _pause(root, changes: Changes, ids, statuses, delay: float) -> tuple[float, float]:
    """How long until every task is looked at again, and the pause after that one."""
    active = next((i for i, s in zip(ids, statuses) if s not in TERMINAL), None)
    driver = submitted_driver(root, active) if active is not None else None
    if driver is not None and driver.name in changes.drivers:
        return FALLBACK, delay
    longest = 1.0 if driver is None else driver.poll_interval()
    return delay, min(delay * 1.5, longest)


def _heard(root, changes: Changes, ids: list[str], statuses: list, due: float) -> list[int] | None:
    """Wait until `due` (then None: look at every task) or a change naming some of `ids`
    (their positions). Where no driver tells of changes, the tasks' markers (written by the
    tasks themselves, on the root's shared disk) are looked at every MARKER_LOOK seconds
    meanwhile, so an ended task is known at once without asking the scheduler (which is
    still asked once a poll, about the tasks not ended).
    """
    while True:
        left = due - time.monotonic()
        if left <= 0:
            return None
        if not changes.notifies:
            time.sleep(min(left, MARKER_LOOK))
            moved = [
                k
                for k, (i, s) in enumerate(zip(ids, statuses))
                if s not in TERMINAL and marker_status(root, i) in TERMINAL
            ]
            if moved:
                return moved
            continue
        if not changes.wait(left):
            return None
        if changes.ids is None:
            return None
        positions = [k for k, i in enumerate(ids) if i in changes.ids]
        if positions:
            return positions
