"""The slurm driver against the project's real single-node Slurm (scripts/start-slurm.sh).

Two slow checks (a task killed by its time limit, a task held until a start time) are submitted
by a fixture at the start and checked at the end, so their minute-long waits overlap the rest.
"""

import json
import re
import subprocess
import sys
import time
import warnings
from pathlib import Path

import psutil
import pytest
from processes import SOURCE

import hipercow_magic as hm
from hipercow_magic import api
from hipercow_magic.api import slurm_script
from hipercow_magic.core import signing
from hipercow_magic.core.errors import HipercowError, TaskDied
from hipercow_magic.core.root import find_root
from hipercow_magic.drivers.registry import load_driver
from hipercow_magic.drivers.slurm import COUNTS, SlurmUnavailableWarning, scheduler_calls
from hipercow_magic.drivers.slurm.status import root_state

pytestmark = [pytest.mark.slurm, pytest.mark.usefixtures("in_root")]
SCRIPTS = Path(SOURCE) / "scripts"


@pytest.fixture(scope="module")
def driver(root_path):
    return load_driver(find_root(str(root_path)), "slurm")


@pytest.fixture(scope="module")
def node(driver):
    return driver.cluster_info().node_names[0]


def _node_state() -> str:
    return (
        subprocess.run(["sinfo", "-h", "-o", "%T"], capture_output=True, text=True, check=True)
        .stdout.split("\n")[0]
        .strip()
    )


def _squeue_state(job_id: str) -> str:
    out = subprocess.run(
        ["squeue", "-h", "-t", "all", "-j", job_id, "-o", "%T"],
        capture_output=True,
        text=True,
        check=False,
    ).stdout.split()
    return out[0] if out else ""


def _job(task_id: str) -> dict:
    return load_driver(find_root(), "slurm").job_record(task_id)


def _completed_info(driver, task_id: str) -> dict:
    """Slurm's view once it has caught up with the runner (it may still be ending the job)."""
    deadline = time.monotonic() + 30
    while (info := driver.info(task_id))["state"] != "COMPLETED" and time.monotonic() < deadline:
        time.sleep(0.5)
    return info


def test_whole_node_then_low_priority_runs_after_normal_priority(driver):
    # Runs first, while the node is otherwise idle: a whole-node task (cores=Inf), then a
    # low-priority task submitted BEFORE a normal one, both needing every core; the normal one
    # goes first.
    deadline = time.monotonic() + 180  # jobs of earlier test modules may still be ending
    while _node_state() != "idle" and time.monotonic() < deadline:
        time.sleep(0.5)
    cores = driver.cluster_info().max_cores
    blocker = hm.task_create_expr(
        "import os, time; time.sleep(4); os.environ['HIPERCOW_CORES']",
        resources=hm.hipercow_resources(cores="Inf"),
    )
    assert "--exclusive" in Path(_job(blocker.id)["script"]).read_text()
    hm.task_wait(blocker.id, for_start=True, timeout=60)
    whole = {"cores": cores}
    low = hm.task_create_expr("'low'", resources=hm.hipercow_resources(**whole, priority="low"))
    normal = hm.task_create_expr("'normal'", resources=hm.hipercow_resources(**whole))
    assert "--nice=" in Path(_job(low.id)["script"]).read_text()
    assert hm.task_wait(low.id, timeout=120) and hm.task_wait(normal.id, timeout=120)
    low_start, normal_start = (hm.task_times([t.id])[0]["started"] for t in (low, normal))
    assert normal_start < low_start
    assert hm.task_result(blocker.id) == str(cores)


@pytest.fixture(scope="module")
def slow_tasks(root_path):
    """A task that overruns its 1-minute limit and a task held for a minute, submitted early."""
    limited = hm.task_create_expr(
        "import time; time.sleep(600)", resources=hm.hipercow_resources(max_runtime=1)
    )
    held = hm.task_create_expr("'released'", resources=hm.hipercow_resources(hold_until=1))
    killed = hm.task_create_expr("import time; time.sleep(600)")
    return {"limited": limited, "held": held, "killed": killed, "submitted": time.time()}


def test_hold_until_keeps_a_task_pending_with_reason_begin_time(slow_tasks):
    held = slow_tasks["held"]
    assert hm.task_status(held.id) == "submitted"
    info = hm.task_info(held.id)
    assert info.scheduler["state"] == "PENDING"
    assert info.scheduler["reason"] == "BeginTime"
    assert "estimated_start" in info.scheduler
    assert "--begin=" in Path(_job(held.id)["script"]).read_text()
    # Nothing changes while it waits, so the recommended poll interval grows.
    driver = load_driver(find_root(), "slurm")
    for _ in range(3):
        assert driver.status([held.id]) == ["submitted"]
        time.sleep(0.6)
    assert driver.poll_interval() > 0.5


def test_job_cancelled_outside_hipercow_becomes_a_failure(slow_tasks, driver):
    # An administrator's scancel: nothing polls the task until the end of this module, by
    # which time squeue may have forgotten the job (MinJobAge).
    killed = slow_tasks["killed"]
    job_id = _job(killed.id)["job_id"]
    deadline = time.monotonic() + 60
    while _squeue_state(job_id) != "RUNNING" and time.monotonic() < deadline:
        time.sleep(0.2)
    subprocess.run(["scancel", job_id], check=True)
    while _squeue_state(job_id) != "CANCELLED" and time.monotonic() < deadline:
        time.sleep(0.2)
    # Where squeue no longer looks, sacct (or the job-completion file without accounting) does.
    # (accounting records reach slurmdbd a moment after the job ends)
    deadline = time.monotonic() + 30
    while job_id not in (found := driver._query.finished([_job(killed.id)])):
        assert time.monotonic() < deadline, "sacct/jobcomp never reported the job"
        time.sleep(0.5)
    assert (found[job_id].state, found[job_id].source) in (
        ("CANCELLED", "sacct"),
        ("CANCELLED", "jobcomp"),
    )


def test_success_runs_on_a_node_as_a_slurm_job(driver, node):
    t = hm.task_create_expr(
        "import os, socket\nvalue = 6 * 7\n(socket.gethostname(), os.environ['SLURM_JOB_ID'], "
        "os.environ['HIPERCOW_CORES'], value)"
    )
    assert hm.task_wait(t.id, timeout=60)
    host, job_id, cores, value = hm.task_result(t.id)
    assert (host.split(".")[0], cores, value) == (node, "1", 42)
    assert job_id == _job(t.id)["job_id"]
    assert hm.task_exports(t.id)["value"] == 42
    assert "status: success" in hm.task_log_value(t.id)
    outer = hm.task_log_value(t.id, outer=True)
    assert f"task {t.id} on {node}" in outer and f"Slurm job {job_id}" in outer
    script = Path(_job(t.id)["script"]).read_text()
    assert f"-m hipercow_magic.runner {find_root().path} {t.id}" in script
    assert _completed_info(driver, t.id)["state"] == "COMPLETED"


@pytest.mark.parametrize(
    "options, message",
    [
        ({"qos": "short"}, "Other sbatch options go in sbatch_args"),
        ({"partition": "nope"}, "The partition 'nope' does not exist on this cluster"),
        ({"poll_interval": 0}, "'poll_interval' must be a positive number"),
        ({"sbatch_args": ["qos=short"]}, "each entry is one option such as '--qos=short'"),
        ({"python": "/no/such/python"}, "The Python '/no/such/python' was not found here"),
        ({"max_array_size": 0}, "'max_array_size' must be a positive integer"),
    ],
)
def test_configure_rejects_bad_options(options, message):
    before = load_driver(find_root(), "slurm").config
    with pytest.raises(HipercowError, match=re.escape(message)):
        hm.hipercow_configure("slurm", **options)
    assert load_driver(find_root(), "slurm").config == before


def test_dry_run_shows_the_script_and_submits_nothing():
    t = hm.task_create_expr("1 + 1", driver=False)
    sbatch = COUNTS["sbatch"]
    script = slurm_script(t.id, resources=hm.hipercow_resources(cores=2, queue="bigmem"))
    assert "#SBATCH --cpus-per-task=2" in script and "#SBATCH --partition=bigmem" in script
    assert f"hipercow_magic.runner {find_root().path} {t.id}" in script
    assert COUNTS["sbatch"] == sbatch
    assert not Path(find_root().task_dir(t.id), "driver").exists()
    assert hm.task_status(t.id) == "created"
    with pytest.raises(HipercowError, match="too many cores"):
        slurm_script(t.id, resources=hm.hipercow_resources(cores=1000))
    bundle = hm.task_create_bulk_expr("x", [{"x": 1}, {"x": 2}], driver=False)
    assert "#SBATCH --array=0-1" in slurm_script(bundle.ids)


def test_hello_runs_on_slurm():
    assert hm.hipercow_hello(timeout=60) == "Moo"


def test_node_with_another_cloudpickle_refuses_the_task(root_path):
    # The task says it was made with another cloudpickle, as if submitted from elsewhere.
    t = hm.task_create_expr("1 + 1", driver=False)
    data_path = Path(find_root().task_file(t.id, "data.json"))
    data = json.loads(data_path.read_text())
    data["cloudpickle_version"] = "0.0.1"
    data.pop("signature")  # signed again by this user, as the other machine's version would
    data_path.write_text(json.dumps(signing.sign_record(data, t.id)))
    hm.task_submit(t.id)
    assert hm.task_wait(t.id, timeout=60) is False
    reason = hm.task_info(t.id).reason
    assert "cloudpickle" in reason and "0.0.1" in reason


def test_a_failing_preamble_is_a_failure_with_slurms_output(root_path):
    hm.hipercow_configure("slurm", poll_interval=0.5, preamble=["echo 'loading modules'", "exit 3"])
    try:
        t = hm.task_create_expr("'never runs'")
    finally:
        hm.hipercow_configure("slurm", poll_interval=0.5)
    assert hm.task_wait(t.id, timeout=60) is False
    reason = hm.task_info(t.id).reason
    assert "the batch script failed" in reason and "exit code 3" in reason
    assert "loading modules" in hm.task_log_value(t.id, outer=True)
    error = hm.task_result(t.id)
    assert isinstance(error, TaskDied) and "loading modules" in error.node_traceback


def test_failure_brings_back_the_nodes_traceback():
    t = hm.task_create_expr("def f():\n    raise ValueError('broken on the node')\nf()")
    assert hm.task_wait(t.id, timeout=60) is False
    assert hm.task_status(t.id) == "failure"
    error = hm.task_result(t.id)
    assert isinstance(error, ValueError) and str(error) == "broken on the node"
    assert "line 2, in f" in error.node_traceback
    assert "ValueError: broken on the node" in hm.task_log_value(t.id)


def test_retry_of_a_failed_task_runs_again_on_slurm(tmp_path):
    flag = tmp_path / "tried-once"
    t = hm.task_create_expr(
        f"import pathlib\nflag = pathlib.Path({str(flag)!r})\n"
        "if not flag.exists():\n    flag.touch()\n    raise RuntimeError('first try')\n"
        "'second try'"
    )
    assert hm.task_wait(t.id, timeout=60) is False
    again = hm.task_retry(t.id)
    assert again.id != t.id and _job(again.id)["job_id"] != _job(t.id)["job_id"]
    assert hm.task_wait(t.id, timeout=60)  # follows the retry chain
    assert hm.task_result(t.id) == "second try"
    assert hm.task_status(t.id, follow=False) == "failure"


def test_cancel_a_pending_task():
    t = hm.task_create_expr("'never'", resources=hm.hipercow_resources(hold_until=30))
    job_id = _job(t.id)["job_id"]
    assert _squeue_state(job_id) == "PENDING"
    assert hm.task_cancel(t.id) is True
    assert hm.task_status(t.id) == "cancelled"
    assert _squeue_state(job_id) == "CANCELLED"
    assert hm.task_cancel(t.id) is False  # nothing left to cancel


def test_cancel_a_running_task():
    t = hm.task_create_expr("import time; time.sleep(300)")
    running = Path(find_root().task_file(t.id, "status-running"))
    deadline = time.monotonic() + 60
    while not running.exists() and time.monotonic() < deadline:
        time.sleep(0.1)
    pid = json.loads(running.read_text())["pid"]
    # the runner is titled with its task, with a short name Slurm's process tracking can read
    assert f"hipercow task {t.id} (" in " ".join(psutil.Process(pid).cmdline())
    assert Path(f"/proc/{pid}/comm").read_text().strip() == f"hipercow-{t.id[:6]}"
    assert hm.task_cancel(t.id) is True
    assert hm.task_status(t.id) == "cancelled"
    deadline = time.monotonic() + 30
    while psutil.pid_exists(pid) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not psutil.pid_exists(pid), "the task's process was not stopped"
    assert _squeue_state(_job(t.id)["job_id"]) == "CANCELLED"


def test_partition_and_node_selection(driver, node):
    t = hm.task_create_expr(
        "'fast'",
        resources=hm.hipercow_resources(queue="fast", requested_nodes=[node], max_runtime=30),
    )
    assert hm.task_wait(t.id, timeout=60)
    info = _completed_info(driver, t.id)
    assert (info["partition"], info["node"]) == ("fast", node)
    script = Path(_job(t.id)["script"]).read_text()
    assert "--partition=fast" in script and f"--nodelist={node}" in script
    assert "--time=30" in script


def test_impossible_requests_fail_before_anything_is_written(driver, node):
    info = driver.cluster_info()
    before = set(api.task_list())
    cases = [
        ({"cores": info.max_cores + 1}, "too many cores"),
        ({"memory_per_node": info.max_memory + 1}, "too large"),
        ({"queue": "nosuchqueue"}, "not available"),
        ({"requested_nodes": ["nosuchnode"]}, "does not exist"),
        ({"queue": "fast", "max_runtime": "2h"}, "longer than the fast queue allows"),
    ]
    for resources, message in cases:
        with pytest.raises(HipercowError, match=message):
            hm.task_create_expr("1", resources=hm.hipercow_resources(**resources))
    assert set(api.task_list()) == before


def test_a_request_slurm_refuses_keeps_the_task_created(driver):
    info = driver.cluster_info()
    # Each request fits a node, but not together: Slurm itself says no, before a job exists.
    resources = hm.hipercow_resources(cores=info.max_cores, memory_per_process=info.max_memory)
    calls, checks = COUNTS["sbatch"], COUNTS["sbatch --test-only"]
    with pytest.raises(HipercowError, match="Slurm would never run this job: no node of") as e:
        hm.task_create_expr("1", resources=resources)
    assert COUNTS["sbatch"] == calls  # refused by `sbatch --test-only`, before submitting
    assert COUNTS["sbatch --test-only"] == checks + 1
    task_id = re.search(r"'([0-9a-f]{32})'", str(e.value)).group(1)
    assert hm.task_status(task_id) == "created"
    assert _job(task_id) is None
    assert not Path(find_root().task_dir(task_id), "driver", "job.json").exists()


def test_bundles_are_one_array_and_one_squeue_per_poll(driver):
    for n in (10, 200):
        sbatch = COUNTS["sbatch"]
        bundle = hm.task_create_bulk_expr("x * x", [{"x": i} for i in range(n)])
        assert COUNTS["sbatch"] == sbatch + 1
        jobs = {_job(i)["array_job_id"] for i in bundle.ids}
        assert len(jobs) == 1
        assert [_job(i)["index"] for i in bundle.ids] == list(range(n))
        calls, saccts = scheduler_calls(), COUNTS["sacct"]
        statuses = bundle.status()
        # (and at most one sacct, reading the figures of tasks found finished)
        assert COUNTS["sacct"] - saccts <= 1
        assert scheduler_calls() - calls - (COUNTS["sacct"] - saccts) == 1, (
            "one squeue for the whole poll"
        )
        assert set(statuses) <= {"submitted", "running", "success"}
        assert bundle.wait(timeout=240)
        assert bundle.result() == [i * i for i in range(n)]
        # Memory follows the tasks in flight: finished ones are forgotten, read again on demand.
        state = root_state(find_root(), driver.config)
        state.sweep(force=True)
        assert not set(bundle.ids) & (set(state.jobs.live) | set(state.last))
        assert _job(bundle.ids[-1])["index"] == n - 1


def test_a_wait_learns_of_ends_from_the_markers_between_polls(driver, root_path, monkeypatch):
    # Polls an hour apart: only the tasks' own end markers can end these waits in time.
    from hipercow_magic.core.options import options

    monkeypatch.setattr(options, "poll_interval", 3600.0)
    hm.hipercow_configure("slurm", poll_interval=3600)
    try:
        t = hm.task_create_expr("'ended'")
        calls, saccts = scheduler_calls(), COUNTS["sacct"]
        assert hm.task_wait(t, timeout=120)
        assert COUNTS["sacct"] - saccts <= 1  # figures of tasks found finished
        assert scheduler_calls() - calls - (COUNTS["sacct"] - saccts) <= 1, (
            "one squeue, at the wait's start"
        )
        assert t.result() == "ended"
        bundle = hm.task_create_bulk_expr("x * 2", [{"x": i} for i in range(5)])
        calls, saccts = scheduler_calls(), COUNTS["sacct"]
        assert bundle.wait(timeout=120)
        assert COUNTS["sacct"] - saccts <= 1  # figures of tasks found finished
        assert scheduler_calls() - calls - (COUNTS["sacct"] - saccts) <= 1, (
            "one squeue, at the wait's start"
        )
        assert bundle.result() == [0, 2, 4, 6, 8]
    finally:
        hm.hipercow_configure("slurm", poll_interval=0.5)


def test_bundles_larger_than_the_array_limit_are_split(driver, root_path):
    hm.hipercow_configure("slurm", poll_interval=0.5, max_array_size=8)
    try:
        sbatch = COUNTS["sbatch"]
        bundle = hm.task_create_bulk_expr("x + 1", [{"x": i} for i in range(20)])
        assert COUNTS["sbatch"] == sbatch + 3
        assert len({_job(i)["array_job_id"] for i in bundle.ids}) == 3
        assert bundle.wait(timeout=120)
        assert bundle.result() == list(range(1, 21))
    finally:
        hm.hipercow_configure("slurm", poll_interval=0.5)


def test_a_new_process_reattaches_to_submitted_tasks(root_path):
    t = hm.task_create_expr("import time; time.sleep(2); 'from slurm'")
    code = (
        "import hipercow_magic as hm, json, sys\n"
        f"ok = hm.task_wait({t.id!r}, timeout=90)\n"
        f"print(json.dumps([ok, hm.task_status({t.id!r}), hm.task_result({t.id!r})]))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        cwd=root_path,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout.strip().splitlines()[-1]) == [True, "success", "from slurm"]


def test_a_reused_job_id_is_not_taken_for_the_tasks_job(root_path):
    # Slurm may reuse job ids (after losing its state): a record pointing at a job id that now
    # belongs to another job must not take that job's state.
    other = hm.task_create_expr("'another job'")
    assert hm.task_wait(other.id, timeout=60)
    t = hm.task_create_expr("'mine'", resources=hm.hipercow_resources(hold_until=30))
    record_path = Path(find_root().task_dir(t.id), "driver", "job.json")
    record = json.loads(record_path.read_text())
    real_job = record["job_id"]
    try:
        record.update(job_id=_job(other.id)["job_id"], submitted=time.time() - 3600)
        record_path.write_text(json.dumps(record))
        code = (
            "import hipercow_magic as hm, json\n"
            f"print(json.dumps([hm.task_status({t.id!r}), hm.task_info({t.id!r}).reason]))"
        )
        out = subprocess.run(
            [sys.executable, "-c", code],
            cwd=root_path,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert out.returncode == 0, out.stderr
        status, reason = json.loads(out.stdout.strip().splitlines()[-1])
        assert status == "failure"  # not the other job's success
        assert f"Slurm has no record of job {record['job_id']}" in reason
    finally:
        subprocess.run(["scancel", real_job], check=False)


def test_slurmctld_down_keeps_last_known_state_then_recovers():
    # Long enough to outlast the outage below (a squeue without slurmctld gives up after
    # 10-20 s), so that it is still running when Slurm comes back.
    t = hm.task_create_expr("import time; time.sleep(45); 'survived'")
    assert hm.task_wait(t.id, for_start=True, timeout=60)
    assert hm.task_status(t.id) == "running"
    subprocess.run(["bash", str(SCRIPTS / "stop-slurm.sh"), "slurmctld"], check=True)
    time.sleep(1)  # older than the poll interval: the next status asks squeue again
    try:
        with warnings.catch_warnings(record=True) as seen:
            warnings.simplefilter("always")
            assert hm.task_status(t.id) == "running"
        messages = [str(w.message) for w in seen if issubclass(w.category, SlurmUnavailableWarning)]
        assert messages and "last known" in messages[0]
        assert "slurm controller" in messages[0].lower()
        assert not Path(find_root().task_file(t.id, "status-failure")).exists()
    finally:
        subprocess.run(["bash", str(SCRIPTS / "start-slurm.sh")], check=True, capture_output=True)
    with warnings.catch_warnings():
        warnings.simplefilter("error", SlurmUnavailableWarning)
        assert hm.task_status(t.id) in ("running", "success")
        assert hm.task_wait(t.id, timeout=90)
    assert hm.task_result(t.id) == "survived"


def test_time_limit_ends_in_failure_with_reason(slow_tasks):
    limited = slow_tasks["limited"]
    assert hm.task_wait(limited.id, timeout=240) is False
    info = hm.task_info(limited.id)
    assert info.status == "failure"
    assert "time limit" in info.reason and "TIMEOUT" in info.reason
    error = hm.task_result(limited.id)
    assert isinstance(error, TaskDied) and "time limit" in str(error)
    assert "DUE TO TIME LIMIT" in hm.task_log_value(limited.id, outer=True)


def test_killed_task_is_a_failure_with_slurms_reason(slow_tasks):
    killed = slow_tasks["killed"]
    assert hm.task_status(killed.id) == "failure"
    info = hm.task_info(killed.id)
    assert "cancelled outside hipercow" in info.reason and "CANCELLED" in info.reason
    assert isinstance(hm.task_result(killed.id), TaskDied)


def test_hold_until_task_runs_after_its_start_time(slow_tasks):
    held = slow_tasks["held"]
    assert hm.task_wait(held.id, timeout=240)
    assert hm.task_result(held.id) == "released"
    started = hm.task_times([held.id])[0]["started"]
    assert started - slow_tasks["submitted"] >= 50


@pytest.mark.parametrize("folder", ["my project", 'odd "name" #1'])
def test_a_root_whose_path_has_spaces_or_quotes_submits_and_runs(tmp_path, monkeypatch, folder):
    path = tmp_path / folder / "analysis"
    path.mkdir(parents=True)
    monkeypatch.chdir(path)
    hm.hipercow_init(str(path), driver="slurm", poll_interval=0.5)
    t = hm.task_create_expr("import os\nprint('in', os.getcwd())\nos.getcwd()", namespace={})
    assert hm.task_wait(t.id, timeout=120), hm.task_log_value(t.id)
    assert hm.task_result(t.id) == str(path)  # --chdir kept the whole path
    folder_of_task = Path(find_root(str(path)).task_dir(t.id))
    assert (folder_of_task / "driver" / "slurm.out").exists()  # --output kept it too
    assert f"in {path}" in hm.task_log_value(t.id)
    bundle = hm.task_create_bulk_expr("x + 1", [{"x": i} for i in range(3)], namespace={})
    assert bundle.wait(timeout=120)
    assert bundle.result() == [1, 2, 3]
