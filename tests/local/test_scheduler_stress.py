"""The local scheduler under timing faults, with real processes: submissions racing its idle
exit are never stranded, and kill -9 of the scheduler at random moments during a bulk of 500
tasks loses and repeats nothing."""

import os
import random
import signal
import subprocess
import sys
import time

import psutil
import pytest
from processes import source_environment, stop_local_scheduler, wait_until

import hipercow_magic as hc
from hipercow_magic.core import store
from hipercow_magic.core.status import TERMINAL
from hipercow_magic.core.task import marker_status
from hipercow_magic.drivers.local import paths

pytestmark = pytest.mark.slow

SUBMITTER = """
import random, sys, time
import hipercow_magic as hc
rng = random.Random(int(sys.argv[1]))
for i in range(int(sys.argv[2])):
    time.sleep(rng.uniform(0, 0.4))
    print(hc.task_create_expr("1 + 1", namespace={}).id, flush=True)
"""


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
    env = source_environment({"HIPERCOW_KEY_FILE": os.environ["HIPERCOW_KEY_FILE"]})
    others = [
        subprocess.Popen(
            [sys.executable, "-c", SUBMITTER, str(seed), "50"],
            cwd=root.path,
            env=env,
            stdout=subprocess.PIPE,
            text=True,
        )
        for seed in (1, 2)
    ]
    rng = random.Random(0)
    ids = []
    for _ in range(150):
        time.sleep(rng.uniform(0, 0.4))  # around the 0.2 s idle exit
        ids.append(hc.task_create_expr("1 + 1", namespace={}).id)
    for proc in others:
        out, _ = proc.communicate(timeout=120)
        assert proc.returncode == 0
        ids += out.split()
    assert len(set(ids)) == 250
    # nobody asks for a status (which would start a scheduler): the markers alone must
    # show every task done
    wait_until(lambda: all(marker_status(root, i) in TERMINAL for i in ids), timeout=60)
    assert {marker_status(root, i) for i in ids} == {"success"}


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
