"""On the project's real single-node Slurm: a request no node can ever run is refused before
sbatch, naming the limit; a queued job's pending reason is shown in words with what to do,
and Slurm's estimated start only where it means something."""

import os
import subprocess

import pytest
from processes import wait_until

import hipercow_magic as hm
from hipercow_magic.core.errors import HipercowError
from hipercow_magic.core.reasons import pending_words
from hipercow_magic.core.root import find_root
from hipercow_magic.drivers.registry import load_driver
from hipercow_magic.drivers.slurm import COUNTS
from hipercow_magic.drivers.slurm.pending import AHEAD_NO_LIMIT, NO_LIMIT
from hipercow_magic.drivers.slurm.refusals import TEST_ONLY

pytestmark = [pytest.mark.slurm, pytest.mark.usefixtures("in_root")]
WAIT = 180


def _driver():
    return load_driver(find_root(), "slurm")


def _jobs_named(name: str) -> list[str]:
    """The ids of the jobs Slurm lists (in any state) with this name."""
    proc = subprocess.run(
        ["squeue", "-h", "-t", "all", "-n", name, "-o", "%i"],
        capture_output=True,
        text=True,
        check=True,
    )
    return proc.stdout.split()


def _created_task(error: HipercowError) -> str:
    return next(t for t in hm.task_list() if t in str(error))


def test_a_request_no_node_can_run_is_refused_before_sbatch_naming_the_limit():
    info = _driver().cluster_info()
    cores, memory = info.max_cores, info.max_memory
    # Each part fits a node, together they do not: only Slurm can say so.
    resources = hm.hipercow_resources(cores=cores, memory_per_process=memory)
    sbatch, checks = COUNTS["sbatch"], COUNTS[TEST_ONLY]
    with pytest.raises(HipercowError) as e:
        hm.task_create_expr("1", resources=resources)
    message = str(e.value)
    assert (
        f"Slurm would never run this job: no node of partition {info.default_queue} has "
        f"{cores} cores and {cores * memory} GB of memory ({memory} GB per process); "
        f"the largest has {cores} cores and {memory} GB." in message
    )
    assert "Requested node configuration is not available" in message
    assert "Nothing was submitted" in message
    assert COUNTS[TEST_ONLY] == checks + 1
    assert COUNTS["sbatch"] == sbatch, "refused before any job was submitted"
    task_id = _created_task(e.value)
    assert hm.task_status(task_id) == "created"
    assert _jobs_named(task_id) == []
    assert not os.path.exists(os.path.join(find_root().task_dir(task_id), "driver"))


def test_a_bundle_asking_for_what_no_node_has_is_refused_whole():
    hm.hipercow_configure("slurm", poll_interval=0.5, sbatch_args=["--gres=fpga:1"])
    try:
        sbatch = COUNTS["sbatch"]
        with pytest.raises(HipercowError) as e:
            hm.task_create_bulk_expr("x", [{"x": i} for i in range(5)])
        assert "sbatch_args ask for a generic resource (--gres) no node has" in str(e.value)
        assert COUNTS["sbatch"] == sbatch
        created = [t for t in hm.task_list() if hm.task_status(t) == "created"]
        assert len(created) >= 5
        arrays = os.path.join(find_root().hipercow, "slurm", "arrays")
        assert not os.path.isdir(arrays) or os.listdir(arrays) == []
    finally:
        hm.hipercow_configure("slurm", poll_interval=0.5)


def test_a_held_job_says_why_and_what_to_do():
    hm.hipercow_configure("slurm", poll_interval=0.5, sbatch_args=["--hold"])
    try:
        task = hm.task_create_expr("'released'")
    finally:
        hm.hipercow_configure("slurm", poll_interval=0.5)
    driver = _driver()
    assert wait_until(lambda: driver.info(task.id).get("reason") == "JobHeldUser", WAIT)
    job_id = driver.job_record(task.id)["job_id"]
    words, action = pending_words("JobHeldUser")
    text = str(hm.task_info(task.id))
    assert f"Scheduler: {words}; {action}, partition" in text
    assert f"job {job_id}" in text
    assert "expected to start" not in text and "estimated start" not in text
    hm.task_status(task.id)  # a poll: queue_details reads its rows
    assert driver.queue_details([task.id]) == {task.id: {"job_id": job_id, "reason": "JobHeldUser"}}
    subprocess.run(["scontrol", "release", job_id], check=True)
    assert task.wait(timeout=WAIT)
    assert task.result() == "released"


def test_a_job_behind_one_using_every_core_says_why_and_when():
    cores = _driver().cluster_info().max_cores
    block = "import os, time\nwhile not os.path.exists('go-reasons'):\n    time.sleep(0.1)\n"
    big = hm.task_create_expr(block, resources=hm.hipercow_resources(cores=cores))
    assert big.wait(for_start=True, timeout=WAIT)
    unlimited = hm.task_create_expr("1")
    limited = hm.task_create_expr("2", resources=hm.hipercow_resources(max_runtime=5))
    driver = _driver()

    def reason(task):
        return driver.info(task.id).get("reason") in ("Resources", "Priority")

    assert wait_until(lambda: reason(unlimited) and reason(limited), WAIT)
    for task in (unlimited, limited):
        code = driver.info(task.id)["reason"]
        words, action = pending_words(code)
        assert f"Scheduler: {words}; {action}" in str(hm.task_info(task.id))
    # The job ahead has no time limit, so Slurm's estimates are a year away: not shown.
    assert wait_until(lambda: driver.info(unlimited.id).get("start_unknown"), WAIT) == NO_LIMIT
    assert f"estimated start {NO_LIMIT}" in str(hm.task_info(unlimited.id))
    assert wait_until(lambda: driver.info(limited.id).get("start_unknown"), WAIT) == AHEAD_NO_LIMIT
    assert "expected to start" not in str(hm.task_info(limited.id))
    hm.task_status([unlimited.id, limited.id])
    details = driver.queue_details([unlimited.id, limited.id, big.id])
    assert details[unlimited.id]["reason"] in ("Resources", "Priority")
    assert "estimated_start" not in details[unlimited.id]
    assert details[big.id] == {"job_id": driver.job_record(big.id)["job_id"]}
    with open("go-reasons", "w"):
        pass
    for task in (big, unlimited, limited):
        assert task.wait(timeout=WAIT)
