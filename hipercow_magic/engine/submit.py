"""Handing created tasks to a driver and marking them submitted."""

from __future__ import annotations

import time

from hipercow_magic.core import store
from hipercow_magic.core.errors import HipercowError
from hipercow_magic.core.resources import Resources, resolve_hold_until
from hipercow_magic.drivers.registry import load_driver


def submit_tasks(root, ids: list[str], driver_name: str, resources: Resources | None) -> None:
    """Hand tasks to a driver and mark them submitted; on failure they stay `created`."""
    driver = load_driver(root, driver_name)
    resolved = (
        Resources(**vars(resources))
        if resources
        else Resources(queue=driver.cluster_info().default_queue)
    )
    resolved.hold_until = resolve_hold_until(resolved.hold_until)
    which = f"'{ids[0]}'" if len(ids) == 1 else f"{len(ids)} tasks"
    try:
        driver.submit(ids, resolved)
    except (HipercowError, OSError) as e:
        why = e if isinstance(e, HipercowError) else f"{e.strerror or e} ({e.filename or ''})"
        raise HipercowError(
            f"Submitting {which} to '{driver_name}' failed; the task(s) are kept with status "
            f"'created' and can be submitted later with task_submit().\n{why}"
        ) from None
    marker = {"driver": driver_name, "time": time.time(), "resources": resolved.to_dict()}
    try:
        store.write_markers(root, ids, "status-submitted", marker)
    except OSError as e:
        raise HipercowError(
            f"Submitted {which} to '{driver_name}', but could not mark them submitted: "
            f"{e.strerror or e}\nThey run all the same; until they start they show as "
            "'created'."
        ) from None
