"""The local driver says why a task waits, in words, from its scheduler's state file: cores,
memory, a hold, tasks of higher priority; and refuses before queueing a request no node of
its cluster can ever run."""

import os
import re
import time

import pytest
from processes import wait_until

import hipercow_magic as hc
from hipercow_magic.core.errors import HipercowError
from hipercow_magic.core.root import find_root
from hipercow_magic.drivers.registry import load_driver
from hipercow_magic.widgets.model.task import TaskModel

WAIT = 60


@pytest.fixture
def small_root(root, capsys):
    """The root on a one-node cluster of 4 cores and 8 GB."""
    hc.hipercow_configure("local", nodes=[{"name": "n1", "cores": 4, "memory": 8}])
    capsys.readouterr()
    return root


def _blocker(root, **resources):
    """A task that holds its cores and memory until the file 'go' appears in the root."""
    code = "import os, time\nwhile not os.path.exists('go'):\n    time.sleep(0.05)\n"
    task = hc.task_create_expr(code, resources=hc.hipercow_resources(**resources))
    assert task.wait(for_start=True, timeout=WAIT)
    return task


def _words(task):
    details = load_driver(find_root(), "local").queue_details([task.id])
    return details.get(task.id, {}).get("reason_words")


def _release(tasks):
    with open("go", "w"):
        pass
    assert all(hc.task_wait(t.id, timeout=WAIT) for t in tasks)


def test_a_task_waiting_for_cores_says_how_many_are_in_use(small_root):
    busy = _blocker(small_root, cores=3)
    waiting = hc.task_create_expr("'ran'", resources=hc.hipercow_resources(cores=2))
    expected = "waiting for 2 free cores: 3 of 4 in use"
    assert wait_until(lambda: _words(waiting) == expected, WAIT)
    details = load_driver(find_root(), "local").queue_details([waiting.id, busy.id])
    assert details == {waiting.id: {"reason": "Resources", "reason_words": expected}}
    info = hc.task_info(waiting.id)
    assert f"Scheduler: position 1 in the queue, {expected}" in str(info)
    assert TaskModel(waiting.id, small_root).queue_text() == f"position 1 in the queue, {expected}"
    _release([busy, waiting])
    assert waiting.result() == "ran"


def test_a_task_waiting_for_memory_says_how_much_is_in_use(small_root):
    busy = _blocker(small_root, cores=1, memory_per_node=6)
    waiting = hc.task_create_expr("1", resources=hc.hipercow_resources(memory_per_node=4))
    expected = "waiting for 4 GB of free memory: 6 of 8 GB in use"
    assert wait_until(lambda: _words(waiting) == expected, WAIT)
    assert expected in str(hc.task_info(waiting.id))
    _release([busy, waiting])


def test_a_held_task_says_until_when(small_root):
    later = time.time() + 3600
    held = hc.task_create_expr("1", resources=hc.hipercow_resources(hold_until=60))
    driver = load_driver(find_root(), "local")
    row = wait_until(lambda: driver.queue_details([held.id]).get(held.id), WAIT)
    assert row["reason"] == "BeginTime"
    clock = r"\d\d:\d\d:\d\d|\d{4}-\d\d-\d\d \d\d:\d\d"  # today, or another day
    assert re.fullmatch(f"held until ({clock})", row["reason_words"])
    assert abs(row["estimated_start"] - later) < 120
    assert f"Scheduler: position 1 in the queue, {row['reason_words']}" in str(held.info())
    assert held.cancel()


def test_a_low_priority_task_waits_behind_tasks_of_higher_priority(small_root):
    busy = _blocker(small_root, cores=4)
    normal = [hc.task_create_expr("1", resources=hc.hipercow_resources(cores=4)) for _ in range(2)]
    low = hc.task_create_expr("1", resources=hc.hipercow_resources(cores=1, priority="low"))
    assert wait_until(lambda: _words(low) == "waiting behind 2 tasks of higher priority", WAIT)
    assert _words(normal[1]) == "waiting for 4 free cores: 4 of 4 in use"
    assert "position 3 in the queue, waiting behind 2 tasks of higher priority" in str(low.info())
    _release([busy, *normal, low])


def test_a_request_no_node_can_ever_run_is_refused_naming_the_limit(small_root):
    resources = hc.hipercow_resources(cores=4, memory_per_process=4)
    with pytest.raises(HipercowError) as e:
        hc.task_create_expr("1", resources=resources)
    message = str(e.value)
    assert (
        "it asks for 4 GB per process x 4 cores of memory and the node has 8 GB at most" in message
    )
    assert "Nothing was submitted" in message
    task_id = re.search(r"\b([0-9a-f]{32})\b", message)
    created = [t for t in hc.task_list() if hc.task_status(t) == "created"]
    assert len(created) == 1 and (task_id is None or task_id.group(1) == created[0])
    assert os.listdir(os.path.join(small_root.path, "hipercow", "local", "queue")) == []
