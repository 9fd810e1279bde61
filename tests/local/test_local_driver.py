"""The local driver's virtual cluster, scheduler process and faults, with real processes."""

import datetime as dt
import os
import signal
import subprocess
import sys
import time

import psutil
import pytest
from processes import pid_alive, scheduler_pid, source_environment, stop_local_scheduler, wait_until

import hipercow_magic as hc
from hipercow_magic.core import store
from hipercow_magic.drivers.local import paths
from hipercow_magic.drivers.registry import load_driver

WAIT = 60
SLEEP = "import time\ntime.sleep({})"


@pytest.fixture
def one_core_root(tmp_path, monkeypatch, capsys):
    """A root whose virtual cluster is one node with one core: tasks run one at a time."""
    monkeypatch.chdir(tmp_path)
    root = hc.hipercow_init(
        ".", driver="local", idle_timeout=30, nodes=[{"name": "solo", "cores": 1, "memory": 2}]
    )
    capsys.readouterr()
    yield root
    stop_local_scheduler(root)


def started(task) -> float:
    return hc.task_times(task)[0]["started"]


def test_tasks_run_concurrently_up_to_the_cores(example_root):
    res = hc.hipercow_resources(cores=4)
    t0 = time.time()
    code = SLEEP.format(1.5) + "\nimport os\nos.environ['HIPERCOW_NODE']"
    tasks = [hc.task_create_expr(code, namespace={}, resources=res) for _ in range(4)]
    for t in tasks:
        assert t.wait(timeout=WAIT)
    # four 4-core tasks fill the four 4-core nodes at once
    assert max(started(t) for t in tasks) - min(started(t) for t in tasks) < 1.0
    assert time.time() - t0 < 4 * 1.5
    assert sorted(t.result() for t in tasks) == ["gpu-3", "gpu-4", "node-1", "node-2"]


def test_more_work_than_cores_queues(one_core_root):
    a = hc.task_create_expr(SLEEP.format(1), namespace={})
    b = hc.task_create_expr(SLEEP.format(0), namespace={})
    assert a.wait(timeout=WAIT) and b.wait(timeout=WAIT)
    assert started(b) >= hc.task_times(a)[0]["finished"] - 0.05


def test_task_environment_cores_and_pinning(root):
    code = (
        "import os\n(os.environ['HIPERCOW_CORES'], os.environ['OMP_NUM_THREADS'], "
        "os.environ['MKL_NUM_THREADS'], os.environ['POLARS_MAX_THREADS'], "
        "len(os.sched_getaffinity(0)))"
    )
    one = hc.task_create_expr(code, namespace={})
    assert one.wait(timeout=WAIT)
    assert one.result() == ("1", "1", "1", "1", 1)
    cores = hc.hipercow_cluster_info().max_cores
    if cores >= 2:
        two = hc.task_create_expr(code, namespace={}, resources=hc.hipercow_resources(cores=2))
        assert two.wait(timeout=WAIT)
        assert two.result() == ("2", "2", "2", "2", 2)


def test_inf_cores_gets_a_whole_node_and_exclusive_keeps_requested_cores(example_root):
    code = "import os\n(os.environ['HIPERCOW_CORES'], os.environ['HIPERCOW_NODE'])"
    inf = hc.task_create_expr(code, namespace={}, resources=hc.hipercow_resources(cores="Inf"))
    excl = hc.task_create_expr(
        code, namespace={}, resources=hc.hipercow_resources(cores=1, exclusive=True)
    )
    assert inf.wait(timeout=WAIT) and excl.wait(timeout=WAIT)
    assert inf.result()[0] == "4"
    assert excl.result()[0] == "1"


def test_exclusive_waits_for_an_empty_node(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    root = hc.hipercow_init(
        ".", driver="local", idle_timeout=30, nodes=[{"name": "n1", "cores": 2, "memory": 2}]
    )
    try:
        busy = hc.task_create_expr(SLEEP.format(1.5), namespace={})
        assert busy.wait(for_start=True, timeout=WAIT)
        excl = hc.task_create_expr(
            "1", namespace={}, resources=hc.hipercow_resources(exclusive=True)
        )
        assert excl.wait(timeout=WAIT)
        assert started(excl) >= hc.task_times(busy)[0]["finished"] - 0.05
    finally:
        stop_local_scheduler(root)


def test_queue_and_requested_nodes_restrict_placement(example_root):
    code = "import os\nos.environ['HIPERCOW_NODE']"
    fast = [
        hc.task_create_expr(code, namespace={}, resources=hc.hipercow_resources(queue="fast"))
        for _ in range(4)
    ]
    pinned = hc.task_create_expr(
        code, namespace={}, resources=hc.hipercow_resources(requested_nodes=["node-2"])
    )
    for t in fast + [pinned]:
        assert t.wait(timeout=WAIT)
    assert {t.result() for t in fast} <= {"gpu-3", "gpu-4"}
    assert pinned.result() == "node-2"
    both = hc.task_create_expr(
        code,
        namespace={},
        resources=hc.hipercow_resources(queue="bigmem", requested_nodes=["node-1", "node-2"]),
    )
    assert both.wait(timeout=WAIT) and both.result() in ("node-1", "node-2")


def test_memory_is_a_placement_constraint(one_core_root):
    with pytest.raises(hc.HipercowError, match="4Gb per node is too large for this cluster"):
        hc.task_create_expr("1", namespace={}, resources=hc.hipercow_resources(memory_per_node=4))
    ok = hc.task_create_expr(
        "1", namespace={}, resources=hc.hipercow_resources(memory_per_node="2G")
    )
    assert ok.wait(timeout=WAIT)


def test_low_priority_yields_to_normal(one_core_root):
    blocker = hc.task_create_expr(SLEEP.format(1), namespace={})
    assert blocker.wait(for_start=True, timeout=WAIT)
    low = hc.task_create_expr("1", namespace={}, resources=hc.hipercow_resources(priority="low"))
    normal = hc.task_create_expr("2", namespace={})
    assert low.wait(timeout=WAIT) and normal.wait(timeout=WAIT)
    assert started(normal) < started(low)


def test_hold_until_delays_the_start(root):
    begin = dt.datetime.now() + dt.timedelta(seconds=2)
    task = hc.task_create_expr("1", namespace={}, resources=hc.hipercow_resources(hold_until=begin))
    deadline = time.time() + 1.5
    while task.info().scheduler.get("reason") != "BeginTime" and time.time() < deadline:
        time.sleep(0.05)
    assert task.status() == "submitted"
    assert task.info().scheduler.get("reason") == "BeginTime"
    assert task.wait(timeout=WAIT)
    assert started(task) >= begin.timestamp()


@pytest.mark.slow
def test_max_runtime_kills_the_whole_tree(root):
    code = (
        "import subprocess, sys, time\n"
        "child = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(300)'])\n"
        "open('child.pid', 'w').write(str(child.pid))\n"
        "time.sleep(300)"
    )
    task = hc.task_create_expr(code, namespace={}, resources=hc.hipercow_resources(max_runtime=1))
    assert task.wait(timeout=120) is False
    info = task.info()
    assert info.status == "failure"
    assert info.reason == "exceeded max_runtime of 1 minute"
    assert 59 < info.ran_for < 75
    child_pid = int(open("child.pid").read())
    time.sleep(0.5)
    assert not pid_alive(child_pid)
    err = task.result()
    assert "exceeded max_runtime of 1 minute" in str(err)


def test_killed_task_becomes_failure_with_reason(root):
    task = hc.task_create_expr(SLEEP.format(60), namespace={})
    assert task.wait(for_start=True, timeout=WAIT)
    pid = hc.task_info(task).scheduler["pid"]
    os.kill(pid, signal.SIGKILL)
    assert task.wait(timeout=10) is False
    info = task.info()
    assert info.status == "failure"
    assert "killed by SIGKILL" in info.reason
    assert "killed by SIGKILL" in str(task.result())


def test_task_exiting_without_result_is_a_failure(root):
    task = hc.task_create_expr("import os\nos._exit(7)", namespace={})
    assert task.wait(timeout=WAIT) is False
    assert "exited with code 7 without a result" in task.info().reason


def test_scheduler_is_detached_single_and_restarts_without_losing_or_repeating(one_core_root):
    root = one_core_root
    counter = os.path.join(root.path, "runs")
    code = "import time\nopen(COUNTER, 'a').write(NAME + '\\n')\ntime.sleep(DELAY)\nNAME"
    first = hc.task_create_expr(code, namespace={"COUNTER": counter, "NAME": "first", "DELAY": 3})
    assert first.wait(for_start=True, timeout=WAIT)
    queued = [
        hc.task_create_expr(code, namespace={"COUNTER": counter, "NAME": f"q{i}", "DELAY": 0})
        for i in range(3)
    ]
    pid = scheduler_pid(root)
    sched = psutil.Process(pid)
    assert sched.ppid() != os.getpid() or os.getsid(pid) != os.getsid(0)
    # only one scheduler per root, however often we ask
    driver = load_driver(root, "local")
    for _ in range(3):
        driver.ensure_scheduler()
    time.sleep(1.5)  # a scheduler that finds the root taken gives up within a second
    same = [
        p
        for p in psutil.process_iter(["cmdline", "ppid"])
        if "hipercow_magic.drivers.local.scheduler" in (p.info["cmdline"] or [])
        and root.path in p.info["cmdline"]
    ]
    # a task process shares the scheduler's command line until it renames itself
    schedulers = [p.pid for p in same if p.info["ppid"] not in {q.pid for q in same}]
    assert schedulers == [pid]
    os.kill(pid, signal.SIGKILL)
    sched.wait(5)
    assert first.status() == "running"  # the running task carries on; status restarts it
    for t in [first] + queued:
        assert t.wait(timeout=WAIT)
    assert scheduler_pid(root) != pid
    runs = open(counter).read().split()
    assert sorted(runs) == ["first", "q0", "q1", "q2"]  # each ran exactly once


def test_task_killed_while_scheduler_is_down_is_noticed(root):
    task = hc.task_create_expr(SLEEP.format(60), namespace={})
    assert task.wait(for_start=True, timeout=WAIT)
    task_pid = hc.task_info(task).scheduler["pid"]
    sched_pid = scheduler_pid(root)
    os.kill(sched_pid, signal.SIGKILL)
    psutil.Process(sched_pid).wait(5)
    os.kill(task_pid, signal.SIGKILL)
    assert task.wait(timeout=15) is False
    assert "without a result" in task.info().reason


def _processes_naming(text: str) -> list[psutil.Process]:
    """The processes whose command line contains `text`, as `pkill -f TEXT` finds them."""
    return [
        p
        for p in psutil.process_iter(["cmdline"])
        if text in " ".join(p.info["cmdline"] or []) and p.pid != os.getpid()
    ]


def test_a_task_process_is_titled_with_its_id_and_pkill_f_finds_it(root):
    task = hc.task_create_expr(SLEEP.format(60), namespace={})
    assert task.wait(for_start=True, timeout=WAIT)
    pid = hc.task_info(task).scheduler["pid"]
    found = wait_until(lambda: _processes_naming(task.id))
    assert [p.pid for p in found] == [pid]
    title = " ".join(filter(None, found[0].info["cmdline"]))  # the title is NUL-padded
    assert title == f"hipercow task {task.id} ({root.path})"
    # its short name (top, pkill) has no spaces, which /proc/PID/stat readers could not parse
    with open(f"/proc/{pid}/comm") as f:
        assert f.read().strip() == f"hipercow-{task.id[:6]}"
    # the scheduler still says what it is, and only it does
    scheduler = scheduler_pid(root)
    assert psutil.Process(scheduler).cmdline()[1:] == [
        "-m",
        "hipercow_magic.drivers.local.scheduler",
        root.path,
    ]
    of_root = {p.pid: p.info["cmdline"] for p in _processes_naming(root.path)}
    assert sorted(of_root) == sorted([scheduler, pid])
    assert [p for p, cmd in of_root.items() if "hipercow_magic.drivers.local.scheduler" in cmd] == [
        scheduler
    ]
    found[0].terminate()  # what `pkill -f ID` does
    assert task.wait(timeout=10) is False
    info = task.info()
    assert info.status == "failure"
    assert info.reason == "the task's process was killed by SIGTERM without a result"
    assert "killed by SIGTERM" in str(task.result())


def test_without_pidfds_the_scheduler_still_sees_tasks_end(root):
    # Systems without pidfd_open (Linux before 5.3, others): the scheduler polls its tasks.
    code = (
        "import os, sys\n"
        "del os.pidfd_open\n"
        "from hipercow_magic.drivers.local.scheduler import main\n"
        "sys.exit(main(sys.argv[1:]))"
    )
    scheduler = subprocess.Popen(
        [sys.executable, "-c", code, root.path],
        cwd=root.path,
        env=source_environment(),
        stdin=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        wait_until(lambda: (store.read_json_or(paths.scheduler_info(root)) or {}).get("pid"))
        assert scheduler_pid(root) == scheduler.pid
        done = hc.task_create_expr("6 * 7", namespace={})
        killed = hc.task_create_expr(SLEEP.format(60), namespace={})
        assert done.wait(timeout=WAIT) and done.result() == 42
        assert killed.wait(for_start=True, timeout=WAIT)
        os.kill(hc.task_info(killed).scheduler["pid"], signal.SIGKILL)
        assert killed.wait(timeout=10) is False
        assert "killed by SIGKILL" in killed.info().reason
        assert scheduler_pid(root) == scheduler.pid  # the same scheduler all along
    finally:
        scheduler.kill()
        scheduler.wait()


def test_bulk_expr_over_rows_dicts_and_dataframes(root):
    import pandas as pd

    scale = 10  # noqa: F841 (captured by the task)
    rows = [{"a": 1, "b": "x"}, {"a": 2, "b": "y"}]
    bundle = hc.task_create_bulk_expr("f'{b}{a * scale}'", rows, bundle_name="rows")
    assert bundle.name == "rows" and len(bundle) == 2
    assert bundle.wait(timeout=WAIT)
    assert bundle.result() == ["x10", "y20"]
    cols = hc.task_create_bulk_expr("a + b", {"a": [1, 2, 3], "b": [10, 20, 30]})
    frame = hc.task_create_bulk_expr("a * b", pd.DataFrame({"a": [1, 2], "b": [3, 4]}))
    assert cols.wait(timeout=WAIT) and frame.wait(timeout=WAIT)
    assert cols.result() == [11, 22, 33]
    assert frame.result() == [3, 8]
    assert cols.name in hc.hipercow_bundle_list()
    assert hc.task_list(in_bundle="rows") == list(reversed(bundle.ids))
    with pytest.raises(hc.HipercowError, match="must have at least one element"):
        hc.task_create_bulk_expr("a", [])
    with pytest.raises(hc.HipercowError, match="rows with names"):
        hc.task_create_bulk_expr("a", [1, 2])


def test_bulk_call_and_bundle_operations(root, capsys):
    rounded = hc.task_create_bulk_call(round, [1.234, 5.678], args={"ndigits": 1})
    assert rounded.wait(timeout=WAIT)
    assert rounded.result() == [1.2, 5.7]
    assert rounded.status(reduce=True) == "success"
    named = hc.task_create_bulk_call("{x}-{y}".format, [{"x": 2, "y": 3}, {"x": 3, "y": 2}])
    assert named.wait(timeout=WAIT) and named.result() == ["2-3", "3-2"]
    mixed = hc.task_create_bulk_call(lambda v: 1 / v, [1, 0])
    assert mixed.wait(timeout=WAIT, fail_early=False) is False  # both end: one fails
    assert mixed.status() == ["success", "failure"]
    assert mixed.status(reduce=True) == "failure"
    loaded = hc.hipercow_bundle_load(mixed.name)
    assert loaded.ids == mixed.ids
    loaded.retry()
    assert hc.task_status(mixed.ids[1], follow=False) == "failure"
    loaded.wait(timeout=WAIT)
    assert hc.task_status(mixed.ids, follow=True)[1] == "failure"  # the retry fails the same way
    assert len(hc.task_info(mixed.ids[1]).retry_chain) == 2
    hc.hipercow_bundle_delete(mixed.name)
    assert mixed.name not in hc.hipercow_bundle_list()


def test_bundle_wait_fail_early_and_cancel(root, capsys):
    slow_and_bad = hc.task_create_bulk_call(
        lambda v: (__import__("time").sleep(v), 1 / v)[1], [0, 20]
    )
    t0 = time.time()
    assert slow_and_bad.wait(timeout=WAIT, fail_early=True) is False
    assert time.time() - t0 < 15
    assert slow_and_bad.cancel()[1] is True
    assert slow_and_bad.status() == ["failure", "cancelled"]
    with pytest.raises(hc.HipercowError, match="did not complete in time"):
        hc.task_create_bulk_call(lambda v: __import__("time").sleep(v), [30]).wait(timeout=0.1)


def test_status_of_many_finished_tasks_is_cheap_and_correct(root):
    bundle = hc.task_create_bulk_expr("i * 2", [{"i": i} for i in range(200)])
    assert bundle.wait(timeout=120)
    statuses = hc.task_status(bundle.ids)
    assert statuses == ["success"] * 200
    assert bundle.result() == [i * 2 for i in range(200)]
