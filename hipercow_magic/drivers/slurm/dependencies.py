"""Tasks that wait for other tasks on Slurm: the parents' jobs as `--dependency=afterok:...`,
and dependents whose jobs Slurm cancelled because a parent failed.

A parent that runs alone is waited for by its job id; one that is an element of a job array
by `ARRAYJOB_INDEX`, or the array as a whole when every element is a parent. With
`--kill-on-invalid-dep=yes` Slurm cancels a dependent as soon as a parent's job fails (the
runner exits non-zero when its task fails), so nothing is left pending for ever.
"""

from __future__ import annotations

import os

from hipercow_magic.core import store
from hipercow_magic.core.errors import HipercowError
from hipercow_magic.core.format import short_id
from hipercow_magic.core.task import marker_status, read_marker
from hipercow_magic.drivers.slurm.jobs import TASK_MAP, JobIndex, arrays_dir

KILL_ON_INVALID = "--kill-on-invalid-dep=yes"
NEVER_SATISFIED = "DependencyNeverSatisfied"  # squeue's reason for such a cancelled job


def parent_jobs(root, jobs: JobIndex, after) -> dict[str, dict]:
    """The job records of the parents tasks must wait for, by parent task id.

    Raises:
        HipercowError: a parent was submitted to another driver, or its Slurm job can't be
            found (nothing is submitted then).
    """
    records = jobs.records(list(after))
    for task_id in after:
        driver = read_marker(root, task_id, "submitted").get("driver")
        if driver not in (None, "slurm"):
            raise HipercowError(
                f"Task {short_id(task_id)}, which these tasks wait for, was submitted to the "
                f"'{driver}' driver, not to Slurm\nSlurm can hold a job only until other Slurm "
                "jobs end: wait for that task first, or submit both to the same driver."
            )
        if records[task_id] is None:
            raise HipercowError(
                f"Task {short_id(task_id)}, which these tasks wait for, has no Slurm job "
                f"(status '{marker_status(root, task_id)}')\nSubmit it first (task_submit), "
                "or drop the dependency."
            )
    return {task_id: records[task_id] for task_id in after}


def dependency_options(root, parents: dict[str, dict]) -> list[str]:
    """The sbatch options holding jobs until the parents' jobs succeed ([] for no parents)."""
    if not parents:
        return []
    targets: list[str] = []
    elements: dict[str, set[int]] = {}
    for record in parents.values():
        if record.get("array_job_id"):
            elements.setdefault(record["array_job_id"], set()).add(record["index"])
        elif record["job_id"] not in targets:
            targets.append(record["job_id"])
    for array_id, indexes in elements.items():
        record = next(r for r in parents.values() if r.get("array_job_id") == array_id)
        if len(indexes) == _array_size(root, record):
            targets.append(array_id)  # every element: the array as a whole
        else:
            targets += [f"{array_id}_{i}" for i in sorted(indexes)]
    return [f"--dependency=afterok:{':'.join(targets)}", KILL_ON_INVALID]


def _array_size(root, record: dict) -> int:
    """How many tasks the job array of an element's record runs."""
    key = record["name"].removeprefix("hipercow-")
    text = store.read_text_or(os.path.join(arrays_dir(root), key, TASK_MAP)) or ""
    return len(text.split())


def check_known(parents: dict[str, dict], rows: dict) -> None:
    """Refuse parents whose jobs squeue no longer lists (`rows`: its rows by job id).

    Slurm takes a dependency on a job it has forgotten as satisfied, so such a dependent
    would start at once.

    Raises:
        HipercowError: a parent's job is unknown to Slurm.
    """
    for task_id, record in parents.items():
        row = rows.get(record["job_id"])
        if row is None or row.name != record["name"]:
            raise HipercowError(
                f"Slurm no longer knows job {record['job_id']} of task {short_id(task_id)}, "
                "which these tasks wait for: it ended without the task's result\nLook at "
                f"task_status('{task_id}') (which records how it ended), then retry it and "
                "depend on the retry."
            )
