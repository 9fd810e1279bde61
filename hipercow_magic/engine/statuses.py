"""Task statuses, cheap first: cached terminal states, marker files, then ONE driver call per
driver for the tasks still submitted or running; and the driver a task was submitted to.
"""

from __future__ import annotations

import os

from hipercow_magic.core.errors import HipercowError, warn
from hipercow_magic.core.status import ACTIVE
from hipercow_magic.core.task import marker_status, read_marker, task_exists
from hipercow_magic.drivers.registry import load_driver


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

    A driver that can't be loaded leaves its tasks at their last known status and says why:
    appended to `problems` when a list is given, else as a HipercowWarning.
    """
    out = [marker_status(root, i) for i in ids]
    active = [k for k, s in enumerate(out) if s in ACTIVE]
    if not active or os.environ.get("HIPERCOW_NO_DRIVERS") == "1":
        return out
    by_driver: dict[str, list[int]] = {}
    for k in active:
        name = read_marker(root, ids[k], "submitted").get("driver")
        if name is None:
            continue  # started before its submission was recorded; markers say running
        by_driver.setdefault(name, []).append(k)
    for name, positions in by_driver.items():
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
        for k, status in zip(positions, driver.status([ids[k] for k in positions])):
            out[k] = status
    return out


def poll_interval(root, task_id: str) -> float:
    """The longest pause between status checks that the task's driver recommends."""
    driver = submitted_driver(root, task_id)
    return 1.0 if driver is None else driver.poll_interval()
