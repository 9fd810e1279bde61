"""Checks before provisioning: tasks that would notice a new installation, and an
installation already under way.
"""

from __future__ import annotations

from hipercow_magic.core import store
from hipercow_magic.core.provision import all_records, own_record
from hipercow_magic.core.status import ACTIVE
from hipercow_magic.engine.listing import list_tasks
from hipercow_magic.engine.retry import follow_ids
from hipercow_magic.engine.statuses import task_statuses


def active_users(root, environment: str) -> list[str]:
    """Queued or running tasks that would load this environment's installation."""

    def affected(name: str | None) -> bool:
        if name in (None, "empty"):
            return False
        if name == environment:
            return True
        # an environment without its own installation uses the default one
        return environment == "default" and own_record(root, name) is None

    users = []
    for task_id in list_tasks(root, with_status=list(ACTIVE)):
        data = store.read_json_or(root.task_file(task_id, "data.json")) or {}
        parallel = data.get("parallel") or {}
        if affected(data.get("environment")) or affected(parallel.get("environment")):
            users.append(task_id)
    return users


def installation_under_way(root, environment: str) -> str | None:
    """The id of a queued or running task installing this environment, or None."""
    for record in all_records(root, environment):
        task = record.get("task")
        if (
            record["status"] in ACTIVE
            and task
            and task_statuses(root, follow_ids(root, [task]))[0] in ACTIVE
        ):
            return task
    return None
