"""What a local task really used, as the scheduler measures it from the task's process tree:
live readings while it runs, its final figures once it has ended."""

import os
import signal

import psutil
import pytest
from processes import pid_alive, scheduler_pid, wait_until

import hipercow_magic as hc
from hipercow_magic.core.usage import read_usage
from hipercow_magic.drivers.local.process_tree import (
    CountingBudget,
    TreeMemory,
    TreeReading,
    read_tree,
)

WAIT = 120

# Two pool workers each burn 3 s of CPU (their own CPU time, so a busy machine slows them
# without changing the figure) while the task's process holds 200 MB (in a function: the
# task's variables are saved when it ends, and a copy of them would count too). It returns
# when the burning began and ended: on a busy machine the two share fewer than 2 cores.
BURN_TWO_CORES = (
    "import time, hipercow_magic\n"
    "def burn(seconds):\n"
    "    began = time.time()\n"
    "    end = time.process_time() + seconds\n"
    "    while time.process_time() < end:\n"
    "        pass\n"
    "    return began, time.time()\n"
    "def hold_and_burn():\n"
    "    held = bytearray(200_000_000)\n"
    "    for i in range(0, len(held), 4096):\n"
    "        held[i] = 1\n"
    "    spans = hipercow_magic.pool().map(burn, [3, 3])\n"
    "    return len(held), min(b for b, _ in spans), max(e for _, e in spans)\n"
    "hold_and_burn()"
)


def test_a_two_core_task_reports_its_cpu_cores_memory_and_wall_time(root):
    if hc.hipercow_cluster_info().max_cores < 2:
        pytest.skip("this machine has one core")
    task = hc.task_create_expr(
        BURN_TWO_CORES,
        namespace={},
        resources=hc.hipercow_resources(cores=2),
        parallel=hc.hipercow_parallel("parallel"),
    )
    live = wait_until(lambda: (u := read_usage(root, task.id)) and u.running and u, WAIT)
    assert task.status() == "running"
    assert live.cores_now is not None and live.cores_now >= 0
    assert live.memory_now is not None and live.memory_now > 0
    assert live.samples >= 1
    assert "by the local scheduler" in live.source

    assert task.wait(timeout=WAIT)
    held, began, ended = task.result()
    assert held == 200_000_000
    usage = wait_until(lambda: (u := read_usage(root, task.id)) and not u.running and u, WAIT)
    assert 5.5 <= usage.cpu <= 8.5  # 2 x 3 s burning, plus starting Python and the pool
    # 6 CPU seconds over the burning's span: 2 cores on an idle machine, fewer on a busy one
    burning = 6 / (ended - began)
    assert 0.8 * burning <= usage.cores_peak <= 2.3
    assert 200_000_000 <= usage.memory_peak < 400_000_000
    times = hc.task_times(task)[0]
    assert usage.wall == pytest.approx(times["finished"] - times["started"], abs=0.01)
    assert usage.wall >= ended - began >= 3.0
    assert usage.cores_average <= usage.cores_peak
    assert usage.cores_now is None and usage.memory_now is None
    assert usage.samples >= 1
    assert usage.source.startswith("sampled every ")
    assert usage.source.endswith(" by the local scheduler")


def test_a_task_shorter_than_one_reading_still_gets_its_figures(root):
    task = hc.task_create_expr("sum(range(10))", namespace={})
    assert task.wait(timeout=WAIT)
    usage = wait_until(lambda: (u := read_usage(root, task.id)) and not u.running and u, WAIT)
    times = hc.task_times(task)[0]
    assert usage.wall == pytest.approx(times["finished"] - times["started"], abs=0.01)
    assert usage.cpu > 0
    assert usage.memory_peak > 1_000_000  # a Python process: at least some MB resident


CHILD = (
    "import time\n"
    "end = time.process_time() + 2\n"
    "while time.process_time() < end:\n"
    "    pass\n"
    "held = bytearray(150_000_000)\n"
    "for i in range(0, len(held), 4096):\n"
    "    held[i] = 1\n"
    "time.sleep(4)\n"
)


def test_a_task_counts_the_processes_it_starts(root):
    code = f"import subprocess, sys\nsubprocess.run([sys.executable, '-c', {CHILD!r}])\n'done'"
    task = hc.task_create_expr(code, namespace={})
    assert task.wait(timeout=WAIT)
    assert task.result() == "done"
    usage = wait_until(lambda: (u := read_usage(root, task.id)) and not u.running and u, WAIT)
    assert usage.cpu >= 2.0  # the child's time, reaped by the task's process
    assert usage.memory_peak >= 150_000_000  # the child's memory, read while it held it
    assert usage.samples >= 2


def test_a_tree_of_processes_counts_the_pages_they_share_once():
    """This process and a forked copy share 50 MB: their resident sizes count it twice,
    the tree's memory once."""
    held = bytearray(50_000_000)
    held[::4096] = b"\1" * len(held[::4096])
    stay, go = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(go)
        os.read(stay, 1)  # until the test closes its end
        os._exit(0)
    os.close(stay)
    try:
        reading = read_tree(os.getpid())
        assert pid in reading.pids and reading.pids[0] == os.getpid()
        resident = sum(psutil.Process(p).memory_info().rss for p in reading.pids)
        assert abs(reading.memory - resident) < 5_000_000
        memory = TreeMemory(CountingBudget(share=0, burst=0))  # no counting but the first
        counted = memory.measure(reading, 1)
        assert 50_000_000 < counted < reading.memory - 40_000_000
        # until the budget allows another count, growth in resident memory is added to it
        grown = TreeReading(reading.cpu, reading.memory + 1000, reading.pids)
        assert memory.measure(grown, 1) == counted + 1000
        # above a limit, the tree is counted again before the figure is believed
        again = memory.measure(grown, 1, limit=counted)
        assert again != counted + 1000 and abs(again - counted) < 5_000_000
    finally:
        os.close(go)
        os.waitpid(pid, 0)
    assert read_tree(pid) is None  # a process that has gone has no tree


def test_a_restarted_scheduler_goes_on_from_the_figures_stored_before(root, tmp_path):
    gate = tmp_path / "go"
    code = (
        "import os, time\n"
        "end = time.process_time() + 1.5\n"
        "while time.process_time() < end:\n"
        "    pass\n"
        "held = bytearray(150_000_000)\n"
        "for i in range(0, len(held), 4096):\n"
        "    held[i] = 1\n"
        "time.sleep(1.5)\n"
        "del held\n"
        f"while not os.path.exists({str(gate)!r}):\n"
        "    time.sleep(0.1)\n"
    )
    task = hc.task_create_expr(code, namespace={})
    before = wait_until(
        lambda: (u := read_usage(root, task.id)) and u.memory_peak >= 150_000_000 and u, WAIT
    )
    assert before.running and before.cpu >= 1.4
    pid = scheduler_pid(root)
    os.kill(pid, signal.SIGKILL)  # the task's process lives on; the next scheduler adopts it
    wait_until(lambda: not pid_alive(pid))
    assert task.status() == "running"
    # the next scheduler reads the task too, going on from the figures stored before
    after = wait_until(
        lambda: (u := read_usage(root, task.id)) and u.samples > before.samples and u
    )
    assert after.running and after.memory_peak >= before.memory_peak
    assert after.cpu >= before.cpu
    gate.write_text("")
    assert task.wait(timeout=WAIT)
    usage = wait_until(lambda: (u := read_usage(root, task.id)) and not u.running and u, WAIT)
    assert usage.memory_peak >= 150_000_000  # the peak measured before the restart
    assert usage.cpu >= after.cpu and usage.samples >= after.samples
    times = hc.task_times(task)[0]
    assert usage.wall == pytest.approx(times["finished"] - times["started"], abs=0.01)
