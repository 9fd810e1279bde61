"""A bulk of tasks on the local driver: every task ran in its own process and left its own
files (inputs, record, log, result, times and markers, nothing half-written), with its times
in order, and the tasks listed in the order they were created.
"""

import os

from processes import wait_until

import hipercow_magic as hc
from hipercow_magic.core.root import find_root
from hipercow_magic.core.task import read_marker

WAIT = 120
N = 40
FILES = {
    "data.json",
    "locals.pkl",
    "log",
    "result.pkl",
    "times.json",
    "status-submitted",
    "status-running",
    "status-final",
    "status-success",
    "usage.json",  # what it used, written by the scheduler when it reaps the process
}


def test_each_task_of_a_bulk_has_its_own_process_and_files(root):
    bundle = hc.task_create_bulk_expr("(i, os.getpid())", [{"i": i} for i in range(N)])
    assert bundle.wait(timeout=WAIT)
    values = bundle.result()
    assert [i for i, _ in values] == list(range(N))
    pids = [pid for _, pid in values]
    assert len(set(pids)) == N and os.getpid() not in pids  # a process of its own each
    r = find_root(".")
    for task_id, pid in zip(bundle.ids, pids):
        # its figures come when the scheduler reaps its process, just after the task's end
        usage = r.task_file(task_id, "usage.json")
        assert wait_until(lambda usage=usage: os.path.exists(usage), WAIT)
        assert set(os.listdir(r.task_dir(task_id))) == FILES  # and no temporary file
        assert read_marker(r, task_id, "running")["pid"] == pid
        assert f"id: {task_id}" in hc.task_log_value(task_id)
        assert "status: success" in hc.task_log_value(task_id)
    for times in hc.task_times(bundle):
        assert set(times) == {"created", "submitted", "started", "finished"}
        assert times["created"] <= times["submitted"] <= times["started"] <= times["finished"]
    assert hc.task_list(in_bundle=bundle.name) == list(reversed(bundle.ids))


def test_a_finished_task_says_when_and_how_it_ended(root):
    ok = hc.task_create_expr("1 + 1", namespace={})
    failed = hc.task_create_expr("raise ValueError('no')", namespace={})
    assert ok.wait(timeout=WAIT) and ok.result() == 2
    assert failed.wait(timeout=WAIT) is False
    info = failed.info()
    assert info.status == "failure" and info.reason == "ValueError: no"
    for task in (ok, failed):
        times = hc.task_times(task)[0]
        assert None not in times.values()
        assert times["finished"] == task.info().times["finished"]
