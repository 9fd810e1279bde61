"""Handing created tasks to a driver and marking them submitted."""

from __future__ import annotations

import time

from hipercow_magic.core import store
from hipercow_magic.core.errors import HipercowError
from hipercow_magic.core.resource_values import resolve_hold_until
from hipercow_magic.core.resources import Resources
from hipercow_magic.drivers.registry import load_driver
from hipercow_magic.engine.dependencies import submission_groups


def submit_tasks(
    root,
    ids: list[str],
    driver_name: str,
    resources: Resources | None,
    depends_on: list[str] | None = None,
) -> None:
    """Hand tasks to a driver and mark them submitted; on failure they stay `created`.

    Tasks are handed over in groups sharing the parents they still wait for (those
    submitted or running, or submitted in this call: their group goes first); each group's
    submitted marker names them (`after`).

    Raises:
        HipercowError: a parent of a task failed, was cancelled or was never submitted
            (nothing is submitted), or the driver refused a group (the groups before it
            stay submitted, the others `created`).
    """
    groups = submission_groups(root, ids, depends_on)
    driver = load_driver(root, driver_name)
    resolved = (
        Resources(**vars(resources))
        if resources
        else Resources(queue=driver.cluster_info().default_queue)
    )
    resolved.hold_until = resolve_hold_until(resolved.hold_until)
    which = f"'{ids[0]}'" if len(ids) == 1 else f"{len(ids)} tasks"
    done = 0
    unmarked: OSError | None = None
    for after, group in groups:
        try:
            if after:
                driver.submit(group, resolved, after=after)
            else:
                driver.submit(group, resolved)
        except (HipercowError, OSError) as e:
            why = e if isinstance(e, HipercowError) else f"{e.strerror or e} ({e.filename or ''})"
            kept = f" ({done} of them were submitted before)" if done else ""
            raise HipercowError(
                f"Submitting {which} to '{driver_name}' failed; the task(s) are kept with "
                f"status 'created'{kept} and can be submitted later with task_submit().\n{why}"
            ) from None
        done += len(group)
        marker = {"driver": driver_name, "time": time.time(), "resources": resolved.to_dict()}
        if after:
            marker["after"] = after
        try:
            store.write_markers(root, group, "status-submitted", marker)
        except OSError as e:
            unmarked = e
    if unmarked is not None:
        raise HipercowError(
            f"Submitted {which} to '{driver_name}', but could not mark them submitted: "
            f"{unmarked.strerror or unmarked}\nThey run all the same; until they start they "
            "show as 'created'."
        ) from None
