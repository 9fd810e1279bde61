"""A dry run: the batch script Slurm would be given for tasks, without submitting anything."""

from __future__ import annotations

from hipercow_magic.core.resources import validate_resources
from hipercow_magic.core.root import find_root, task_ids
from hipercow_magic.core.task import read_data
from hipercow_magic.drivers.registry import load_driver
from hipercow_magic.engine.dependencies import submission_groups


def slurm_script(ids, resources=None, root=None) -> str:
    """The script `sbatch` would get for these (created) tasks; nothing is written or submitted.

    Create the tasks with `driver=False`, look at the script, then `task_submit(ids)`.

    Args:
        ids: a task id or Task handle, a list of them, or a Bundle.
        resources: what the tasks would ask for, from hipercow_resources().
        root: the hipercow root (default: found from the working directory).

    Returns:
        The batch script's text.

    Raises:
        HipercowError: a task does not exist, the slurm driver is not configured, or the
            resources don't fit the cluster.
    """
    root = find_root(root)
    ids, _ = task_ids(ids)
    for task_id in ids:
        read_data(root, task_id)  # an unknown id is an error
    driver = load_driver(root, "slurm")
    checked = validate_resources(resources, driver.cluster_info())
    after = list(dict.fromkeys(p for parents, _ in submission_groups(root, ids) for p in parents))
    return driver.batch_script(ids, checked, after=after)
