"""The slurm driver's job index on real files (no Slurm needed): which job runs each task,
and that memory keeps only the tasks in flight."""

import os

import pytest

from hipercow_magic.core import store
from hipercow_magic.core.root import Root
from hipercow_magic.core.task import write_terminal
from hipercow_magic.drivers.slurm.jobs import JobIndex, arrays_dir, driver_file, outer_log


@pytest.fixture
def root(tmp_path):
    os.makedirs(tmp_path / "hipercow" / "tasks")
    return Root(str(tmp_path))


def make_task(root, task_id):
    os.makedirs(root.task_dir(task_id))
    store.write_json(root.task_file(task_id, "data.json"), {"type": "expression"})
    store.write_json(root.task_file(task_id, "status-submitted"), {})


def make_array(root, key, ids, job_id="100"):
    folder = os.path.join(arrays_dir(root), key)
    os.makedirs(folder)
    store.write_text(os.path.join(folder, "tasks"), "\n".join(ids) + "\n")
    return folder, {"job_id": job_id, "name": f"hipercow-{key}", "output": f"{folder}/%a.out"}


IDS = [f"{i:032x}" for i in range(1, 4)]


def test_a_single_jobs_record_is_written_and_read_back(root):
    make_task(root, IDS[0])
    index = JobIndex(root)
    index.add_job(IDS[0], {"job_id": "7", "name": IDS[0], "output": "/nowhere"})
    assert os.path.exists(driver_file(root, IDS[0], "job.json"))
    fresh = JobIndex(root)  # another process
    assert fresh.get(IDS[0])["job_id"] == "7" and IDS[0] in fresh.live
    assert fresh.get("f" * 32) is None
    assert outer_log(fresh.get(IDS[0])) is None


def test_array_elements_get_their_own_job_id_index_and_output(root):
    for tid in IDS:
        make_task(root, tid)
    folder, record = make_array(root, "k1", IDS)
    JobIndex(root).add_array(folder, record)
    fresh = JobIndex(root)
    records = fresh.records(IDS)
    assert [r["job_id"] for r in records.values()] == ["100_0", "100_1", "100_2"]
    assert [r["index"] for r in records.values()] == [0, 1, 2]
    assert records[IDS[2]]["array_job_id"] == "100"
    assert records[IDS[2]]["output"] == f"{folder}/2.out"


def test_an_array_not_yet_submitted_is_looked_at_again_later(root):
    make_task(root, IDS[0])
    folder, record = make_array(root, "k1", [IDS[0]])
    index = JobIndex(root)
    assert index.get(IDS[0]) is None
    store.write_json(os.path.join(folder, "job.json"), record)
    assert index.get(IDS[0])["job_id"] == "100_0"


def test_finished_tasks_are_forgotten_and_read_again_on_demand(root):
    for tid in IDS:
        make_task(root, tid)
    folder, record = make_array(root, "k1", IDS[:2])
    index = JobIndex(root)
    index.add_array(folder, record)
    index.add_job(IDS[2], {"job_id": "9", "name": IDS[2], "output": "/nowhere"})
    assert set(index.live) == set(IDS)
    for tid in IDS[1:]:
        write_terminal(root, tid, "success")
    index.forget_finished()
    assert set(index.live) == {IDS[0]}
    # still known, from disk, and not kept in memory again
    assert index.get(IDS[1])["job_id"] == "100_1" and index.get(IDS[2])["job_id"] == "9"
    assert set(index.live) == {IDS[0]}
    # another process finding the array keeps only its unfinished tasks
    fresh = JobIndex(root)
    assert fresh.get(IDS[0])["job_id"] == "100_0"
    assert set(fresh.live) == {IDS[0]}
