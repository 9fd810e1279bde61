"""Which Slurm job runs each task.

A task submitted on its own has its job's record in its own folder (`driver/job.json`); the
tasks of a job array share one record in `hipercow/slurm/arrays/<key>/` beside the array's
task map (line i: the task element i runs), so a bundle costs no file per task.
"""

from __future__ import annotations

import os

from hipercow_magic.core import store
from hipercow_magic.core.status import TERMINAL
from hipercow_magic.core.task import marker_status

JOB_FILE = "job.json"
TASK_MAP = "tasks"


def driver_file(root, task_id: str, name: str) -> str:
    """A file of the slurm driver's in the task's folder (script, output, job record)."""
    return os.path.join(root.task_dir(task_id), "driver", name)


def write_driver_file(root, task_id: str, name: str, text: str) -> str:
    """Write one of the task's driver files (atomically); returns its path."""
    path = driver_file(root, task_id, name)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    store.write_text(path, text)
    return path


def arrays_dir(root) -> str:
    """The folder holding one folder per job array."""
    return os.path.join(root.hipercow, "slurm", "arrays")


def parent(record: dict) -> str:
    """The job id squeue is asked about: the array's for an element, else the job's own."""
    return record.get("array_job_id") or record["job_id"]


def outer_log(record: dict | None) -> str | None:
    """What Slurm wrote for the job (its --output file), or None."""
    if not record or not record.get("output"):
        return None
    return store.read_text_or(record["output"])


class JobIndex:
    """The job records of one root's tasks.

    Records are read from disk when first asked for and kept while their tasks are in
    flight; `forget` drops a finished task's, which is read again from disk if asked for
    later, so memory follows the tasks in flight, not every task ever seen.

    Args:
        root: the root whose tasks these are.
    """

    def __init__(self, root):
        self.root = root
        self.live: dict[str, dict] = {}
        self.arrays_seen: set[str] = set()

    def get(self, task_id: str) -> dict | None:
        """The task's job record (job id, job name, script, output...), or None."""
        return self.records([task_id])[task_id]

    def records(self, ids: list[str]) -> dict[str, dict | None]:
        """The job records of many tasks (None for a task with no job), reading the array
        folders at most once between them.
        """
        out: dict[str, dict | None] = {}
        missing = []
        for task_id in ids:
            record = self.live.get(task_id)
            if record is None:
                record = store.read_json_or(driver_file(self.root, task_id, JOB_FILE))
                if record is not None and not self._finished(task_id):
                    self.live[task_id] = record
            out[task_id] = record
            if record is None:
                missing.append(task_id)
        if missing:
            self._index_new_arrays()
            found = {t: self.live[t] for t in missing if t in self.live}
            rest = {t for t in missing if t not in found}
            if rest:
                found.update(self._search_arrays(rest))
            out.update(found)
        return out

    def add_job(self, task_id: str, record: dict) -> None:
        """Record the job just submitted for one task."""
        path = driver_file(self.root, task_id, JOB_FILE)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        store.write_json(path, record)
        self.live[task_id] = record

    def add_array(self, folder: str, record: dict) -> None:
        """Record the job array just submitted from `folder` (which holds its task map)."""
        store.write_json(os.path.join(folder, JOB_FILE), record)
        self._index_array(os.path.basename(folder), all_live=True)

    def forget(self, task_id: str) -> None:
        """Drop a finished task's record from memory (it stays on disk)."""
        self.live.pop(task_id, None)

    def forget_finished(self) -> dict[str, dict]:
        """Drop the records of every task that has finished since it was remembered;
        returns them (task id -> record).
        """
        return {t: self.live.pop(t) for t in [t for t in self.live if self._finished(t)]}

    def _finished(self, task_id: str) -> bool:
        return marker_status(self.root, task_id) in TERMINAL

    def _index_new_arrays(self) -> None:
        try:
            keys = os.listdir(arrays_dir(self.root))
        except FileNotFoundError:
            return
        for key in keys:
            if key not in self.arrays_seen:
                self._index_array(key, all_live=False)

    def _read_array(self, key: str) -> tuple[dict | None, list[str]]:
        """An array's record (None until it is submitted) and its tasks, in element order."""
        folder = os.path.join(arrays_dir(self.root), key)
        record = store.read_json_or(os.path.join(folder, JOB_FILE))
        ids = (store.read_text_or(os.path.join(folder, TASK_MAP)) or "").split()
        return record, ids

    def _index_array(self, key: str, all_live: bool) -> None:
        """Learn an array's tasks; unless `all_live`, skip those already finished."""
        array, ids = self._read_array(key)
        if array is None:
            return  # not submitted (or being submitted right now)
        self.arrays_seen.add(key)
        for index, task_id in enumerate(ids):
            if all_live or not self._finished(task_id):
                self.live[task_id] = _element(array, index)

    def _search_arrays(self, wanted: set[str]) -> dict[str, dict]:
        """Records of finished array tasks (not kept in memory), from the arrays' folders."""
        found = {}
        for key in sorted(self.arrays_seen):
            array, ids = self._read_array(key)
            for index, task_id in enumerate(ids):
                if task_id in wanted and array is not None:
                    found[task_id] = _element(array, index)
            if len(found) == len(wanted):
                break
        return found


def _element(array: dict, index: int) -> dict:
    """The record of one element of a job array."""
    return {
        **array,
        "job_id": f"{array['job_id']}_{index}",
        "array_job_id": array["job_id"],
        "index": index,
        "output": array["output"].replace("%a", str(index)),
    }
