"""The local scheduler under timing faults, with real processes: submissions racing its idle
exit are never stranded, and kill -9 of the scheduler at random moments during a bulk of 500
tasks loses and repeats nothing."""

import os
import random
import signal
import time

import psutil
import pytest
from processes import stop_local_scheduler, wait_until

import hipercow_magic as hc
from hipercow_magic.core import store
from hipercow_magic.core.status import TERMINAL
from hipercow_magic.core.task import marker_status
from hipercow_magic.drivers.local import paths

pytestmark = pytest.mark.slow


def _root(tmp_path, monkeypatch, capsys, **options):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("HIPERCOW_KEY_FILE", str(tmp_path.parent / f"{tmp_path.name}.key"))
    root = hc.hipercow_init(".", driver="local", **options)
    capsys.readouterr()
    return root


@pytest.fixture
def quick_idle_root(tmp_path, monkeypatch, capsys):
    """A root whose scheduler exits after 0.2 s with nothing to do."""
    root = _root(tmp_path, monkeypatch, capsys, idle_timeout=0.2)
    yield root
    stop_local_scheduler(root)


@pytest.fixture
def four_core_root(tmp_path, monkeypatch, capsys):
    """A root whose virtual cluster is one node with four cores."""
    root = _root(
        tmp_path,
        monkeypatch,
        capsys,
        idle_timeout=30,
        nodes=[{"name": "n", "cores": 4, "memory": 64}],
    )
    yield root
    stop_local_scheduler(root)


def test_submissions_racing_the_idle_exit_are_never_stranded(quick_idle_root):
    root = quick_idle_root
    rng = random.Random(0)
    stranded = 0
    rounds = 200
    for _ in range(rounds):
        task = hc.task_create_expr("1 + 1", namespace={})
        # nobody asks for a status (which would start a scheduler): the markers alone must
        # show the task done
        try:
            wait_until(lambda t=task.id: marker_status(root, t) in TERMINAL, timeout=15)
        except AssertionError:
            stranded += 1
            assert task.wait(timeout=60)  # a status call starts a scheduler
        assert marker_status(root, task.id) == "success"
        # the next submission comes just as the scheduler, idle, begins to exit
        deadline = time.monotonic() + 15
        while os.path.exists(paths.scheduler_info(root)):
            assert time.monotonic() < deadline, "the scheduler never went idle"
            time.sleep(0.001)
        time.sleep(rng.uniform(0, 0.02))
    print(f"\nsubmissions timed against the idle exit: {rounds}; stranded: {stranded}")
    assert stranded == 0


def _live_scheduler(root) -> int | None:
    """The pid of the root's running scheduler, checked against its command line."""
    info = store.read_json_or(paths.scheduler_info(root)) or {}
    try:
        proc = psutil.Process(info["pid"])
        if "hipercow_magic.drivers.local.scheduler" in proc.cmdline():
            return proc.pid
    except (KeyError, psutil.NoSuchProcess, psutil.ZombieProcess):
        pass
    return None


def test_kill_9_of_the_scheduler_during_a_bulk_loses_and_repeats_nothing(four_core_root):
    root = four_core_root
    runs = os.path.join(root.path, "runs")
    os.mkdir(runs)
    code = (
        "import time\nwith open(f'{RUNS}/{i}', 'a') as f:\n    f.write('x\\n')\ntime.sleep(0.2)\ni"
    )
    n = 500
    bundle = hc.task_create_bulk_expr(code, {"i": list(range(n))}, namespace={"RUNS": runs})
    ids = bundle.ids
    rng = random.Random(11)
    rounds = 0
    killed = set()
    while rounds < 25:
        hc.task_status(ids)  # the restart happens on a status call (of an unfinished task)
        pid = wait_until(lambda: (p := _live_scheduler(root)) and p not in killed and p)
        time.sleep(rng.uniform(0, 0.6))
        if all(marker_status(root, i) in TERMINAL for i in ids):
            break
        os.kill(pid, signal.SIGKILL)
        killed.add(pid)
        psutil.Process(pid).wait(10)
        rounds += 1
    assert bundle.wait(timeout=300, fail_early=False)
    statuses = hc.task_status(bundle)
    counts = [len(open(os.path.join(runs, str(i))).read().split()) for i in range(n)]
    log = store.read_text_or(paths.scheduler_log(root)) or ""
    print(
        f"\nkill -9 rounds: {rounds}; tasks: {n}; success: {statuses.count('success')}; "
        f"ran once: {counts.count(1)}; never: {counts.count(0)}; more than once: "
        f"{sum(c > 1 for c in counts)}; starts cut short and queued again: "
        f"{log.count('cut short')}"
    )
    assert rounds >= 20
    assert statuses == ["success"] * n
    assert counts == [1] * n
