"""Submitting tasks to Slurm and cancelling their jobs.

One task is one job; many tasks sharing resources are one job array, split into several
where Slurm's MaxArraySize (or the configured max_array_size) is smaller.
"""

from __future__ import annotations

import dataclasses
import os
import secrets
import shutil
import time

from hipercow_magic.core import store
from hipercow_magic.core.errors import HipercowError
from hipercow_magic.core.resources import Resources
from hipercow_magic.drivers.base import ClusterInfo
from hipercow_magic.drivers.slurm import commands, parse
from hipercow_magic.drivers.slurm.commands import SlurmUnavailable
from hipercow_magic.drivers.slurm.jobs import (
    TASK_MAP,
    JobIndex,
    arrays_dir,
    driver_file,
    write_driver_file,
)
from hipercow_magic.drivers.slurm.refusals import check_runnable
from hipercow_magic.drivers.slurm.script import array_script, sbatch_options, task_script

DEFAULT_MAX_ARRAY_SIZE = 1001  # Slurm's own default


@dataclasses.dataclass
class Batch:
    """One sbatch call: a job running one task, or a job array running many.

    Attributes:
        ids: the tasks, in array element order.
        name: the job's name (the task id for one task).
        output: Slurm's --output path (with '%a' for an array's element).
        script: the batch script's text.
        script_path: where the script is written.
        folder: an array's folder (its script, task map and record); None for one task.
        job_id: Slurm's job id, once submitted.
        submitted: when sbatch was called (epoch seconds).
    """

    ids: list[str]
    name: str
    output: str
    script: str
    script_path: str
    folder: str | None = None
    job_id: str | None = None
    submitted: float | None = None

    def record(self) -> dict:
        """The job record kept for the batch's tasks (see jobs.py)."""
        return {
            "job_id": self.job_id,
            "name": self.name,
            "submitted": self.submitted,
            "script": self.script_path,
            "output": self.output,
        }


def plan(
    root,
    ids: list[str],
    resources: Resources,
    config: dict,
    cluster: tuple[ClusterInfo, dict],
    key: str | None = None,
    dependency: list[str] | None = None,
) -> list[Batch]:
    """The sbatch calls that submit these tasks (nothing is written or run).

    Args:
        root: the tasks' root.
        ids: the tasks, all with `resources`.
        resources: what each task needs (becomes #SBATCH options).
        config: the driver's configuration.
        cluster: the cluster's description and settings (`ClusterCache.get`).
        key: the array folder's name (random where None; a dry run names it '<key>').
        dependency: options holding the jobs until others succeed (`dependency_options`).
    """
    info, settings = cluster
    common = {
        "options": [*sbatch_options(resources, config, info.node_names), *(dependency or [])],
        "resources": resources,
        "config": config,
        "root_path": root.path,
    }
    if len(ids) == 1:
        task_id = ids[0]
        output = driver_file(root, task_id, "slurm.out")
        log = root.task_file(task_id, "log")
        text = task_script(task_id, name=task_id, output=output, log_path=log, **common)
        return [Batch(ids, task_id, output, text, driver_file(root, task_id, "slurm.sh"))]
    size = int(settings.get("max_array_size") or DEFAULT_MAX_ARRAY_SIZE)
    if config.get("max_array_size"):
        size = min(size, int(config["max_array_size"]))
    batches = []
    for start in range(0, len(ids), size):
        chunk = ids[start : start + size]
        batch_key = key or secrets.token_hex(6)
        folder = os.path.join(arrays_dir(root), batch_key)
        output = os.path.join(folder, "%a.out")
        name = f"hipercow-{batch_key}"
        text = array_script(
            os.path.join(folder, TASK_MAP),
            len(chunk),
            name=name,
            output=output,
            tasks_path=root.tasks,
            **common,
        )
        batches.append(Batch(chunk, name, output, text, os.path.join(folder, "array.sh"), folder))
    return batches


def submit(
    root,
    ids: list[str],
    resources: Resources,
    config: dict,
    cluster: tuple[ClusterInfo, dict],
    jobs: JobIndex,
    dependency: list[str] | None = None,
) -> None:
    """Submit the tasks and record their jobs; all or nothing.

    Slurm is asked first (`check_runnable`, one call) whether it would ever run them: a
    request it never would is refused, naming the limit, before anything is written. If
    any sbatch fails, the jobs already submitted are cancelled and the scripts written
    are removed before the error propagates. `dependency` holds every job until other jobs
    succeed (`dependency_options`).
    """
    batches = plan(root, ids, resources, config, cluster, dependency=dependency)
    check_runnable(batches[0].script, resources, config, cluster[0])
    written: list[str] = []
    done: list[Batch] = []
    try:
        for batch in batches:
            written += _write_scripts(root, batch)
            batch.job_id = _sbatch(batch)
            done.append(batch)
    except BaseException:
        if done:
            scancel([b.job_id for b in done])
        for path in written:
            store.remove_file(path)
        for batch in batches:
            if batch.folder:
                shutil.rmtree(batch.folder, ignore_errors=True)
        raise
    for batch in done:
        if batch.folder:
            jobs.add_array(batch.folder, batch.record())
        else:
            jobs.add_job(batch.ids[0], batch.record())


def _write_scripts(root, batch: Batch) -> list[str]:
    """Write the batch's script (and an array's task map); returns the files written."""
    if batch.folder:
        os.makedirs(batch.folder, exist_ok=True)
        store.write_text(os.path.join(batch.folder, TASK_MAP), "\n".join(batch.ids) + "\n")
        store.write_text(batch.script_path, batch.script)
        return []  # the folder goes as a whole
    return [write_driver_file(root, batch.ids[0], "slurm.sh", batch.script)]


def _sbatch(batch: Batch) -> str:
    """Submit one batch; its job id."""
    batch.submitted = time.time()
    try:
        proc = commands.run(["sbatch", "--parsable", batch.script_path], check=False)
    except SlurmUnavailable as e:
        raise HipercowError(f"Could not submit to Slurm: {e}") from None
    if proc.returncode != 0:
        message = proc.stderr.strip() or proc.stdout.strip() or "(no message)"
        raise HipercowError(
            f"Slurm refused the job (sbatch exited with status {proc.returncode}):\n{message}"
        )
    return proc.stdout.strip().split(";")[0]


def scancel(job_ids: list[str]) -> set[str]:
    """Cancel jobs with one scancel; returns the ids Slurm refused to cancel (already ended)."""
    try:
        proc = commands.run(["scancel", *job_ids], check=False)
    except SlurmUnavailable as e:
        raise HipercowError(f"Could not cancel: {e}") from None
    if proc.returncode == 0:
        return set()
    refused = parse.scancel_refused(proc.stderr)
    if not refused:
        raise HipercowError(f"scancel failed:\n{proc.stderr.strip()}")
    return refused
