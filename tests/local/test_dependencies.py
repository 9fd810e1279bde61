"""Task dependencies on the local driver, with real task processes: tasks held until their
parents succeed, ended 'cancelled' with the reason when a parent fails or is cancelled
(by the scheduler itself, with nobody polling), submitted later, retried, and refused.
"""

from __future__ import annotations

import os
import signal
import time

import pytest
from processes import pid_alive, run_cli, scheduler_pid, wait_until

import hipercow_magic as hc
from hipercow_magic.core.task import marker_status, read_data, read_marker
from hipercow_magic.server.table import TaskTable
from hipercow_magic.widgets.model import TaskModel

WAIT = 60
GATE = "import os, time\nwhile not os.path.exists({path!r}):\n    time.sleep(0.05)\n{value}"


def gated(tmp_path, name: str, value: str = "None", **kwargs) -> tuple[hc.Task, str]:
    """A task that runs until the file `name` exists in tmp_path, then gives `value`."""
    path = str(tmp_path / name)
    return hc.task_create_expr(GATE.format(path=path, value=value), namespace={}, **kwargs), path


def release(path: str) -> None:
    with open(path, "w"):
        pass


def times(task) -> dict:
    return hc.task_times(task.id)[0]


def ended(root, task, status: str) -> bool:
    """Whether the task's terminal marker says `status` (read from disk: no status query)."""
    return marker_status(root, task.id) == status


def reason(root, task, status: str = "cancelled") -> str | None:
    return read_marker(root, task.id, status).get("reason")


def test_a_chain_runs_in_order(root, tmp_path):
    a, gate = gated(tmp_path, "a-go", "1")
    b = hc.task_create_expr("2", namespace={}, depends_on=a)
    c = hc.task_create_expr("3", namespace={}, depends_on=[b])
    assert read_data(root, b.id)["depends_on"] == [a.id]
    assert read_data(root, c.id)["depends_on"] == [b.id]
    assert a.wait(timeout=WAIT, for_start=True)
    info = wait_until(lambda: (i := b.info()).scheduler.get("reason") == "Dependency" and i)
    assert f"waiting for task {a.id[:8]} (running)" in str(info)
    assert b.status() == "submitted" and c.status() == "submitted"
    release(gate)
    assert c.wait(timeout=WAIT) is True
    assert [a.result(), b.result(), c.result()] == [1, 2, 3]
    ta, tb, tc = times(a), times(b), times(c)
    assert ta["finished"] <= tb["started"] and tb["finished"] <= tc["started"]


def test_a_bundle_waits_for_one_task(root, tmp_path):
    a, gate = gated(tmp_path, "a-go")
    bundle = hc.task_create_bulk_expr("x * 10", [{"x": i} for i in range(3)], depends_on=a)
    for task_id in bundle.ids:
        assert read_data(root, task_id)["depends_on"] == [a.id]
    assert a.wait(timeout=WAIT, for_start=True)
    assert hc.task_status(bundle.ids) == ["submitted"] * 3
    release(gate)
    assert hc.hipercow_bundle_wait(bundle, timeout=WAIT) is True
    assert [hc.task_result(i) for i in bundle.ids] == [0, 10, 20]
    assert min(t["started"] for t in hc.task_times(bundle.ids)) >= times(a)["finished"]


def test_a_bundle_waiting_for_a_task_that_fails_is_cancelled_whole(root, tmp_path):
    a = hc.task_create_expr(GATE.format(path=str(tmp_path / "a-go"), value="1 / 0"), namespace={})
    bundle = hc.task_create_bulk_expr("x", [{"x": i} for i in range(4)], depends_on=[a])
    release(str(tmp_path / "a-go"))
    assert hc.hipercow_bundle_wait(bundle, timeout=WAIT) is False
    assert hc.task_status(bundle.ids) == ["cancelled"] * 4
    for task_id in bundle.ids:
        assert (
            read_marker(root, task_id, "cancelled")["reason"] == f"upstream task {a.id[:8]} failed"
        )


def test_a_failing_parent_cancels_its_dependents_and_theirs(root, tmp_path):
    a = hc.task_create_expr(GATE.format(path=str(tmp_path / "a-go"), value="1 / 0"), namespace={})
    b = hc.task_create_expr("2", namespace={}, depends_on=a)
    c = hc.task_create_expr("3", namespace={}, depends_on=b)
    d = hc.task_create_expr("4", namespace={})  # not a dependent: runs
    release(str(tmp_path / "a-go"))
    assert c.wait(timeout=WAIT) is False
    assert [t.status() for t in (a, b, c)] == ["failure", "cancelled", "cancelled"]
    assert reason(root, b) == f"upstream task {a.id[:8]} failed"
    assert reason(root, c) == f"upstream task {a.id[:8]} failed"
    assert times(b)["started"] is None and not os.path.exists(root.task_file(b.id, "log"))
    assert f"Reason: upstream task {a.id[:8]} failed" in str(c.info())
    assert d.wait(timeout=WAIT) is True


def test_a_cancelled_parent_cancels_its_dependents(root, tmp_path):
    a, _ = gated(tmp_path, "never")
    b = hc.task_create_expr("2", namespace={}, depends_on=a)
    c = hc.task_create_expr("3", namespace={}, depends_on=[b])
    assert a.wait(timeout=WAIT, for_start=True)
    assert a.cancel() is True
    assert c.wait(timeout=WAIT) is False
    assert [t.status() for t in (a, b, c)] == ["cancelled"] * 3
    assert reason(root, b) == f"upstream task {a.id[:8]} was cancelled"
    assert reason(root, c) == f"upstream task {a.id[:8]} was cancelled"


def test_cancelling_a_held_task_cancels_its_dependents(root, tmp_path):
    a, gate = gated(tmp_path, "a-go")
    b = hc.task_create_expr("2", namespace={}, depends_on=a)
    c = hc.task_create_expr("3", namespace={}, depends_on=b)
    assert b.cancel() is True
    assert c.wait(timeout=WAIT) is False
    assert reason(root, c) == f"upstream task {b.id[:8]} was cancelled"
    release(gate)
    assert a.wait(timeout=WAIT) is True


def test_the_scheduler_ends_dependents_with_nobody_asking(root, tmp_path):
    """The caller is gone: nothing asks for statuses; the markers alone are looked at."""
    a = hc.task_create_expr(GATE.format(path=str(tmp_path / "a-go"), value="1 / 0"), namespace={})
    b = hc.task_create_expr("2", namespace={}, depends_on=a)
    c = hc.task_create_expr("3", namespace={}, depends_on=b)
    release(str(tmp_path / "a-go"))
    wait_until(lambda: ended(root, c, "cancelled"), timeout=WAIT)
    assert ended(root, a, "failure") and ended(root, b, "cancelled")
    assert reason(root, b) == reason(root, c) == f"upstream task {a.id[:8]} failed"


def test_a_restarted_scheduler_still_holds_and_releases(root, tmp_path):
    a, gate = gated(tmp_path, "a-go", "1")
    b = hc.task_create_expr("2", namespace={}, depends_on=a)
    assert a.wait(timeout=WAIT, for_start=True)
    pid = scheduler_pid(root)
    os.kill(pid, signal.SIGKILL)  # a's process lives on; b is held again by the next one
    wait_until(lambda: not pid_alive(pid))
    assert b.status() == "submitted"
    release(gate)
    assert b.wait(timeout=WAIT) is True
    assert times(b)["started"] >= times(a)["finished"]


def test_task_submit_of_created_tasks_with_dependencies(root, tmp_path):
    a, gate = gated(tmp_path, "a-go", "1")
    b = hc.task_create_expr("2", namespace={}, depends_on=a, driver=False)
    c = hc.task_create_expr("3", namespace={}, depends_on=[a], driver=False)
    assert b.status() == "created"
    hc.task_submit([b, c])
    assert read_marker(root, b.id, "submitted")["after"] == [a.id]
    assert a.wait(timeout=WAIT, for_start=True)
    assert hc.task_status([b.id, c.id]) == ["submitted", "submitted"]
    release(gate)
    assert b.wait(timeout=WAIT) is True and c.wait(timeout=WAIT) is True
    assert times(b)["started"] >= times(a)["finished"]
    d = hc.task_create_expr("4", namespace={}, depends_on=a, driver=False)
    hc.task_submit(d)  # its parent succeeded: no constraint
    assert "after" not in read_marker(root, d.id, "submitted")
    assert d.wait(timeout=WAIT) is True


def test_submitting_a_task_whose_parent_failed_meanwhile_is_refused(root, tmp_path):
    a = hc.task_create_expr(GATE.format(path=str(tmp_path / "a-go"), value="1 / 0"), namespace={})
    b = hc.task_create_expr("2", namespace={}, depends_on=a, driver=False)
    release(str(tmp_path / "a-go"))
    assert a.wait(timeout=WAIT) is False
    with pytest.raises(hc.HipercowError, match=rf"Task {a.id[:8]}, which task .* failed"):
        hc.task_submit(b)
    assert b.status() == "created"


def test_retrying_a_failed_parent_then_its_dependent(root, tmp_path):
    flag = tmp_path / "fixed"
    code = (
        f"import os\nif not os.path.exists({str(flag)!r}):\n    raise ValueError('broken')\nx = 5"
    )
    a = hc.task_create_expr(code, namespace={})
    b = hc.task_create_expr("y = x + 1\ny", namespace={}, imports={"x": a})
    assert b.wait(timeout=WAIT) is False
    assert reason(root, b) == f"upstream task {a.id[:8]} failed"
    with pytest.raises(hc.HipercowError, match=f"Task {a.id[:8]}, which the retry of"):
        hc.task_retry(b)  # its parent failed and is not retried with it
    flag.write_text("")
    a2 = hc.task_retry(a)
    b2 = hc.task_retry(b)
    assert read_data(root, b2.id)["depends_on"] == [a2.id]
    assert read_data(root, b2.id)["imports"] == {"x": a2.id}
    assert b2.wait(timeout=WAIT) is True
    assert b2.result() == 6 and b.result() == 6  # followed to the newest retry
    assert times(b2)["started"] >= times(a2)["finished"]


def test_retrying_a_parent_and_its_dependent_together(root):
    a = hc.task_create_expr("1 / 0", namespace={})
    b = hc.task_create_expr("2", namespace={}, depends_on=a)
    assert b.wait(timeout=WAIT) is False
    b2, a2 = hc.task_retry([b, a])  # the dependent first: its parent's retry is made first
    assert read_data(root, b2.id)["depends_on"] == [a2.id]
    assert b2.wait(timeout=WAIT) is False
    assert reason(root, b2) == f"upstream task {a2.id[:8]} failed"


def test_bad_dependencies_raise_and_write_nothing(root, tmp_path, monkeypatch):
    failed = hc.task_create_expr("1 / 0", namespace={})
    assert failed.wait(timeout=WAIT) is False
    created = hc.task_create_expr("1", namespace={}, driver=False)
    other = tmp_path / "other"
    hc.hipercow_init(str(other))
    monkeypatch.chdir(other)
    elsewhere = hc.task_create_expr("1", namespace={}, driver=False)
    monkeypatch.chdir(tmp_path)
    before = sorted(hc.task_list())
    unknown = "0123456789abcdef" * 2
    cases = [
        (unknown, f"Task '{unknown}', which this task depends on, does not exist"),
        (elsewhere, "belongs to the root at"),
        (failed, rf"Task {failed.id[:8]}, which this task depends on, failed: .*ZeroDivision"),
        (created, rf"Task {created.id[:8]}, which .* has not been submitted .*task_submit"),
    ]
    for parent, message in cases:
        with pytest.raises(hc.HipercowError, match="(?s)" + message):
            hc.task_create_expr("2", namespace={}, depends_on=parent)
        with pytest.raises(hc.HipercowError, match="(?s)" + message):
            hc.task_create_bulk_expr("x", [{"x": 1}, {"x": 2}], depends_on=[parent])
    assert sorted(hc.task_list()) == before  # nothing was written


def cli(*args: str) -> str:
    """What the `hipercow` command prints (run in the root, as a process of its own)."""
    out = run_cli(*args)
    assert out.returncode == 0, out.stderr
    return out.stdout


def test_displays_say_what_a_held_task_waits_for_and_why_it_ended(root, tmp_path):
    a = hc.task_create_expr(GATE.format(path=str(tmp_path / "a-go"), value="1 / 0"), namespace={})
    b = hc.task_create_expr("2", namespace={}, depends_on=a)
    assert a.wait(timeout=WAIT, for_start=True)
    waiting = f"waiting for task {a.id[:8]} (running)"
    model = TaskModel(b.id, root)
    wait_until(lambda: model.refresh_scheduler() or model.scheduler.get("reason") == "Dependency")
    assert model.queue_text() == f"position 1 in the queue, {waiting}"
    assert hc.task_summaries(b)[0]["waiting"] == waiting
    assert hc.task_summaries(a)[0]["waiting"] is None
    rows = {r["id"]: r for r in TaskTable().page(root)["tasks"]}
    assert rows[b.id]["note"] == waiting and rows[a.id]["note"] is None
    assert f"Depends on: {a.id[:8]} (running)" in str(b.info())
    shown = cli("task", "info", b.id[:8])
    assert f"Scheduler: position 1 in the queue, {waiting}" in shown
    c = cli("create", "3", "--after", a.id[:8]).split()[-1].strip("'")
    assert read_data(root, c)["depends_on"] == [a.id]
    assert f"Depends on: {a.id[:8]} (running)" in cli("task", "info", c)
    release(str(tmp_path / "a-go"))
    assert b.wait(timeout=WAIT) is False
    rows = {r["id"]: r for r in TaskTable().page(root)["tasks"]}
    assert rows[b.id]["note"] == f"upstream task {a.id[:8]} failed"
    assert f"Depends on: {a.id[:8]} (failure)" in str(b.info())
    model.update({b.id: "cancelled"}, time.time())
    assert model.outcome()["text"] == (
        f"cancelled before it started (upstream task {a.id[:8]} failed)"
    )
