"""Tasks that wait for other tasks, on the project's real single-node Slurm: chains, arrays
waiting for a task, and what a failed parent does to everything below it.

A parent is held running until the test creates a file, so its dependents are seen pending
for their dependency whatever the machine's speed.
"""

import json
import re
import subprocess
import time
from pathlib import Path

import pytest
from processes import stop_local_scheduler

import hipercow_magic as hm
from hipercow_magic.api import slurm_script
from hipercow_magic.core.errors import HipercowError
from hipercow_magic.core.root import find_root
from hipercow_magic.core.task import read_marker
from hipercow_magic.drivers.registry import load_driver
from hipercow_magic.drivers.slurm import COUNTS, scheduler_calls
from hipercow_magic.drivers.slurm.status import root_state

pytestmark = [pytest.mark.slurm, pytest.mark.usefixtures("in_root")]

HELD = (
    "import os, time\n"
    "deadline = time.time() + 300\n"
    "while not os.path.exists({flag!r}) and time.time() < deadline:\n"
    "    time.sleep(0.1)\n"
)


def _driver():
    return load_driver(find_root(), "slurm")


def _job(task_id: str) -> dict:
    return _driver().job_record(task_id)


def _script(task_id: str) -> str:
    return Path(_job(task_id)["script"]).read_text()


def _held(name: str, tail: str) -> str:
    return HELD.format(flag=name) + tail


def _release(name: str) -> None:
    Path(name).write_text("go")


def _squeue(job_ids: list[str], states: str = "all") -> dict[str, tuple[str, str]]:
    """Slurm's own view of these jobs (array elements one a row): id -> (state, reason)."""
    proc = subprocess.run(
        ["squeue", "-h", "-r", "-t", states, "-j", ",".join(job_ids), "-o", "%i|%T|%r"],
        capture_output=True,
        text=True,
        check=False,
    )
    rows = [line.split("|") for line in proc.stdout.splitlines() if line.strip()]
    return {row[0]: (row[1], row[2]) for row in rows}


def _all_have_reasons(rows: dict[str, tuple[str, str]]) -> bool:
    return all(reason != "None" for _, reason in rows.values())


def _jobs_of(ids: list[str]) -> list[str]:
    return sorted({_job(i).get("array_job_id") or _job(i)["job_id"] for i in ids})


def _wait_until(condition, what: str, timeout: float = 120.0):
    deadline = time.monotonic() + timeout
    while not (value := condition()):
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.25)
    return value


def _times(task_id: str) -> dict:
    return hm.task_times([task_id])[0]


def test_a_chain_runs_in_order_each_waiting_for_the_last(root_path):
    a = hm.task_create_expr(_held("go-chain", "x = 20\nx"))
    b = hm.task_create_expr("y = x + 1\ny", imports={"x": a})
    c = hm.task_create_expr("z = y * 2\nz", imports={"y": b})
    assert f"#SBATCH --dependency=afterok:{_job(a.id)['job_id']}\n" in _script(b.id)
    assert f"#SBATCH --dependency=afterok:{_job(b.id)['job_id']}\n" in _script(c.id)
    assert "#SBATCH --kill-on-invalid-dep=yes\n" in _script(c.id)
    assert "--dependency" not in _script(a.id)
    # While the first runs, the others are held by Slurm for their dependency.
    hm.task_wait(a.id, for_start=True, timeout=120)
    _wait_until(lambda: _driver().info(b.id).get("reason") == "Dependency", "b held")
    assert _driver().info(c.id)["reason"] == "Dependency"
    _wait_until(  # once the first task's process has started on the node
        lambda: f"waiting for task {a.id[:8]} (running)" in str(hm.task_info(b.id)),
        "task_info to say what b waits for",
    )
    assert f"waiting for task {b.id[:8]} (submitted)" in str(hm.task_info(c.id))
    assert hm.task_status([b.id, c.id]) == ["submitted", "submitted"]
    _release("go-chain")
    assert c.wait(timeout=180)
    assert (a.result(), b.result(), c.result()) == (20, 21, 42)
    assert _times(a.id)["finished"] <= _times(b.id)["started"]
    assert _times(b.id)["finished"] <= _times(c.id)["started"]


def test_a_bundle_waits_for_a_task_and_tasks_wait_for_a_bundle(root_path):
    parent = hm.task_create_expr(_held("go-bundle", "'parent'"))
    bundle = hm.task_create_bulk_expr("i * 10", [{"i": i} for i in range(5)], depends_on=[parent])
    array = _job(bundle.ids[0])["array_job_id"]
    script = _script(bundle.ids[0])
    assert "#SBATCH --array=0-4\n" in script
    assert f"#SBATCH --dependency=afterok:{_job(parent.id)['job_id']}\n" in script
    # A whole bundle is waited for as its array; part of one, element by element.
    whole = hm.task_create_expr("'after all'", depends_on=bundle)
    some = hm.task_create_expr("'after two'", depends_on=[bundle.ids[1], bundle.ids[3]])
    assert f"#SBATCH --dependency=afterok:{array}\n" in _script(whole.id)
    assert f"#SBATCH --dependency=afterok:{array}_1:{array}_3\n" in _script(some.id)
    hm.task_wait(parent.id, for_start=True, timeout=120)
    # Slurm gives a job's pending reason once its scheduler has looked at it ('None' before)
    rows = _wait_until(
        lambda: (r := _squeue([array])) and len(r) == 5 and _all_have_reasons(r) and r,
        "the array's five elements, each with a pending reason",
    )
    assert {state for state, _ in rows.values()} == {"PENDING"}
    assert {reason for _, reason in rows.values()} == {"Dependency"}
    time.sleep(0.6)  # past the poll interval (0.5 s): the next status call asks Slurm
    everything = [parent.id, *bundle.ids, whole.id, some.id]
    calls, saccts = scheduler_calls(), COUNTS["sacct"]
    assert hm.task_status(everything) == ["running"] + ["submitted"] * 7
    # (and at most one sacct, reading the figures of tasks found finished)
    assert COUNTS["sacct"] - saccts <= 1
    assert scheduler_calls() - calls - (COUNTS["sacct"] - saccts) == 1, (
        "one squeue for the parent and all it holds"
    )
    _release("go-bundle")
    assert bundle.wait(timeout=180)
    assert bundle.result() == [0, 10, 20, 30, 40]
    finished = _times(parent.id)["finished"]
    assert all(_times(i)["started"] >= finished for i in bundle.ids)
    assert hm.task_wait(whole.id, timeout=180) and hm.task_wait(some.id, timeout=180)
    assert (whole.result(), some.result()) == ("after all", "after two")
    last = max(_times(i)["finished"] for i in bundle.ids)
    assert _times(whole.id)["started"] >= last


def test_a_failed_parent_cancels_everything_below_it_and_leaves_nothing_queued(root_path):
    failing = hm.task_create_expr(_held("go-fail", "raise ValueError('no data')"))
    child = hm.task_create_expr("'child'", depends_on=[failing])
    bundle = hm.task_create_bulk_expr("i", [{"i": i} for i in range(3)], depends_on=[child])
    last = hm.task_create_expr("'last'", depends_on=bundle)
    below = [child.id, *bundle.ids, last.id]
    jobs = _jobs_of(below)
    hm.task_wait(failing.id, for_start=True, timeout=120)
    _release("go-fail")
    assert not hm.task_wait(failing.id, timeout=120)
    # The runner's failure is the job's failure, so Slurm never starts the dependents.
    _wait_until(lambda: _driver().info(failing.id).get("state") == "FAILED", "a failed job")
    assert _driver().info(failing.id)["exit_code"] == "1:0"
    squeues = COUNTS["squeue"]
    statuses = hm.task_status(below)
    assert statuses == ["cancelled"] * len(below), "all of them within one poll"
    assert COUNTS["squeue"] == squeues, "ended from the files, before Slurm is asked"
    root = find_root()
    reason = f"upstream task {failing.id[:8]} failed"
    assert [read_marker(root, i, "cancelled").get("reason") for i in below] == [reason] * len(below)
    assert not any(hm.task_times([i])[0]["started"] for i in below), "none of them ran"
    _wait_until(lambda: not _squeue(jobs, "PENDING,RUNNING,CONFIGURING"), "no job left queued")
    assert hm.task_status(below) == statuses


def test_a_parent_job_killed_outside_hipercow_cancels_its_dependents_in_one_poll(root_path):
    # Nothing marks the parent's end: the driver learns it from Slurm, and its dependents'
    # jobs, which Slurm cancelled (DependencyNeverSatisfied), in the same single squeue.
    parent = hm.task_create_expr("import time; time.sleep(600)")
    child = hm.task_create_expr("'child'", depends_on=[parent])
    bundle = hm.task_create_bulk_expr("i", [{"i": i} for i in range(3)], depends_on=[child])
    hm.task_wait(parent.id, for_start=True, timeout=120)
    job = _job(parent.id)["job_id"]
    below = [child.id, *bundle.ids]
    subprocess.run(["scancel", job], check=True)
    _wait_until(
        lambda: (
            (rows := _squeue(_jobs_of(below)))
            and len(rows) == 4
            and all(r == ("CANCELLED", "DependencyNeverSatisfied") for r in rows.values())
        ),
        "Slurm to cancel the dependents",
    )
    calls, squeues, saccts = scheduler_calls(), COUNTS["squeue"], COUNTS["sacct"]
    statuses = hm.task_status([*below, parent.id])
    # One squeue, and one sacct reading the figures of the jobs it found ended.
    assert COUNTS["squeue"] == squeues + 1 and COUNTS["sacct"] - saccts <= 1
    assert scheduler_calls() - calls - (COUNTS["sacct"] - saccts) == 1, "one squeue"
    assert statuses == ["cancelled"] * len(below) + ["failure"]
    root = find_root()
    assert "cancelled outside hipercow" in read_marker(root, parent.id, "failure")["reason"]
    reason = f"upstream task {parent.id[:8]} failed"
    assert {read_marker(root, i, "cancelled").get("reason") for i in below} == {reason}


def test_the_dry_run_shows_the_dependency_and_submitting_adds_it(root_path):
    parent = hm.task_create_expr(_held("go-dry", "'parent'"))
    child = hm.task_create_expr("'child'", depends_on=[parent], driver=False)
    sbatch = COUNTS["sbatch"]
    script = slurm_script(child.id)
    assert f"#SBATCH --dependency=afterok:{_job(parent.id)['job_id']}\n" in script
    assert "#SBATCH --kill-on-invalid-dep=yes\n" in script
    assert COUNTS["sbatch"] == sbatch and hm.task_status(child.id) == "created"
    hm.task_submit(child.id)
    assert _driver().info(child.id)["reason"] == "Dependency"
    _release("go-dry")
    assert hm.task_wait(child.id, timeout=180) and child.result() == "child"


def test_a_parent_on_another_driver_is_refused_before_anything_is_submitted(root_path):
    hm.hipercow_configure("local", idle_timeout=30)
    root = find_root()
    try:
        local = hm.task_create_expr(_held("go-local", "'local'"), driver="local")
        sbatch = COUNTS["sbatch"]
        with pytest.raises(HipercowError, match="submitted to the 'local' driver, not to Slurm"):
            hm.task_create_expr("'slurm'", depends_on=[local], driver="slurm")
        assert COUNTS["sbatch"] == sbatch
        _release("go-local")
        assert hm.task_wait(local.id, timeout=120)
    finally:
        stop_local_scheduler(root)
        hm.hipercow_unconfigure("local")


def test_a_parent_whose_job_slurm_forgot_is_refused(root_path):
    parent = hm.task_create_expr(_held("go-forgot", "'parent'"))
    hm.task_wait(parent.id, for_start=True, timeout=120)
    # A job record pointing at a job Slurm never had stands for one it has forgotten.
    record = _job(parent.id)
    Path(record["script"]).with_name("job.json").write_text(
        json.dumps({**record, "job_id": "999999"})
    )
    root = find_root()
    root_state(root, _driver().config).jobs.forget(parent.id)
    sbatch = COUNTS["sbatch"]
    with pytest.raises(HipercowError, match=re.escape("Slurm no longer knows job 999999")):
        hm.task_create_expr("'child'", depends_on=[parent])
    assert COUNTS["sbatch"] == sbatch
    Path(record["script"]).with_name("job.json").write_text(json.dumps(record))
    root_state(root, _driver().config).jobs.forget(parent.id)
    _release("go-forgot")
    assert hm.task_wait(parent.id, timeout=120)
