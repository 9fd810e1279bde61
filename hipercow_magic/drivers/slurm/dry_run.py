"""A dry run: the batch script Slurm would be given for tasks, without submitting anything."""

from __future__ import annotations


def slurm_script(ids, resources=None, root=None) -> str:
    """The script `sbatch` would get for these (created) tasks; nothing is written or submitted.

    Create the tasks with `driver=False`, look at the script, then `task_submit(ids)`.
    """
    from ...configure import load_driver
    from ...resources import validate_resources
    from ...root import check_task_id, find_root
    from ...task import read_data

    root = find_root(root)
    ids = [check_task_id(i) for i in ([ids] if isinstance(ids, str) or hasattr(ids, "id")
                                      else ids)]
    for task_id in ids:
        read_data(root, task_id)  # an unknown id is an error
    driver = load_driver(root, "slurm")
    checked = validate_resources(resources, driver.cluster_info())
    return driver.batch_script(ids, checked)
