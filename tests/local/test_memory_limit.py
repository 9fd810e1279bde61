"""The local driver stops a task whose process tree holds more memory than it asked for, and
a task past its max_runtime, each with its failure's class."""

import re

import pytest
from processes import pid_alive, wait_until

import hipercow_magic as hc
from hipercow_magic.core.failures import failure_class
from hipercow_magic.core.usage import read_usage

WAIT = 120

# The task starts a child that sleeps, then holds 300 MB (every page touched) for a minute.
HOLD_300_MB = (
    "import subprocess, sys, time\n"
    "child = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(300)'])\n"
    "open('child.pid', 'w').write(str(child.pid))\n"
    "held = bytearray(300_000_000)\n"
    "for i in range(0, len(held), 4096):\n"
    "    held[i] = 1\n"
    "time.sleep({seconds})\n"
    "len(held)"
)
OUT_OF_MEMORY = re.compile(r"out of memory \(peak (\d+(?:\.\d+)?) GB > limit 0\.1 GB\)")


def test_a_task_past_its_memory_request_is_stopped_out_of_memory(root):
    resources = hc.hipercow_resources(memory_per_node="0.1")
    task = hc.task_create_expr(HOLD_300_MB.format(seconds=60), namespace={}, resources=resources)
    assert task.wait(timeout=WAIT) is False
    info = task.info()
    assert info.status == "failure"
    found = OUT_OF_MEMORY.fullmatch(info.reason)
    assert found, info.reason
    assert 0.1 < float(found.group(1)) < 0.5
    assert failure_class(root, task.id) == "out_of_memory"
    assert info.reason in str(task.result())
    assert f"✖ {info.reason}: stopping the task" in task.log()
    child = int(open("child.pid").read())
    wait_until(lambda: not pid_alive(child), 10)  # the whole tree is stopped
    usage = wait_until(lambda: (u := read_usage(root, task.id)) and not u.running and u, WAIT)
    assert usage.memory_peak > 100_000_000


def test_a_memory_limit_per_process_counts_the_task_cores(root):
    if hc.hipercow_cluster_info().max_cores < 2:
        pytest.skip("this machine has one core")
    resources = hc.hipercow_resources(cores=2, memory_per_process="0.05")
    task = hc.task_create_expr(HOLD_300_MB.format(seconds=60), namespace={}, resources=resources)
    assert task.wait(timeout=WAIT) is False
    assert OUT_OF_MEMORY.fullmatch(task.info().reason)  # 2 cores x 0.05 GB
    assert failure_class(root, task.id) == "out_of_memory"


def test_a_task_within_its_memory_request_succeeds(root):
    resources = hc.hipercow_resources(memory_per_node="1")
    task = hc.task_create_expr(HOLD_300_MB.format(seconds=2), namespace={}, resources=resources)
    assert task.wait(timeout=WAIT)
    assert task.result() == 300_000_000
    assert failure_class(root, task.id) is None


def test_a_task_asking_no_memory_is_never_stopped_for_memory(root):
    task = hc.task_create_expr(HOLD_300_MB.format(seconds=2), namespace={})
    assert task.wait(timeout=WAIT)
    assert task.result() == 300_000_000
    usage = wait_until(lambda: (u := read_usage(root, task.id)) and not u.running and u, WAIT)
    assert usage.memory_peak >= 300_000_000
