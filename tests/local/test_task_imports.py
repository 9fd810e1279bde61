"""A task importing names from other tasks' exports (`imports=`): the values are loaded where
it runs, from those tasks' signed results, once they succeed; on real task processes. And a
`%%hipercow` cell reading names a pending cell's task will set, which imports them so."""

from __future__ import annotations

import os

import pytest
from processes import magic_shell, wait_until

import hipercow_magic as hc
from hipercow_magic.core.errors import HipercowError


def gated(code: str, gate: str = "go") -> str:
    """Task code that runs once the file `gate` exists in the root."""
    return f"import os, time\nwhile not os.path.exists({gate!r}):\n    time.sleep(0.05)\n{code}"


def ended(task: hc.Task, timeout: float = 60) -> str:
    task.wait(timeout=timeout)
    return task.status()


def test_imports_from_a_finished_task(root):
    upstream = hc.task_create_expr("a = 21\nlabel = 'from upstream'", namespace={})
    assert ended(upstream) == "success"
    task = hc.task_create_expr("b = a * 2\nb", namespace={}, imports={"a": upstream})
    data = task.info().data
    assert data["imports"] == {"a": upstream.id}
    assert data["depends_on"] == [upstream.id]
    assert data.get("locals", []) == []  # nothing captured: `a` is not in the namespace
    assert ended(task) == "success"
    assert task.result() == 42 and task.exports() == {"b": 42}
    assert f"Imports: a (task {upstream.id[:8]})" in hc.task_log_value(task.id)


def test_imports_from_a_pending_task_wait_for_its_success(root):
    upstream = hc.task_create_expr(gated("rows = [1, 2, 3]"), namespace={})
    task = hc.task_create_expr("total = sum(rows)\ntotal", namespace={}, imports={"rows": upstream})
    wait_until(lambda: upstream.status() == "running", timeout=60)
    # held by the scheduler while its upstream runs, saying why
    held = wait_until(lambda: hc.task_scheduler_info(task.id).get("reason"), timeout=60)
    assert held == "Dependency" and task.status() == "submitted"
    open("go", "w").close()
    assert ended(task) == "success"
    assert task.result() == 6
    upstream_times, task_times = hc.task_times([upstream.id, task.id])
    assert task_times["started"] >= upstream_times["finished"]


def test_a_name_the_upstream_did_not_set_fails_the_task_naming_both(root):
    upstream = hc.task_create_expr(
        "import threading\nif len('x') > 5:\n    maybe = 1\nlock = threading.Lock()\nkept = 1",
        namespace={},
    )
    assert ended(upstream) == "success"
    sid = upstream.id[:8]
    missing = hc.task_create_expr("y = maybe + 1", namespace={}, imports={"maybe": upstream})
    assert ended(missing) == "failure"
    error = missing.result()
    assert isinstance(error, HipercowError)
    assert str(error) == (
        f"Can't import `maybe` from task {sid}: that task did not set it.\n"
        "Check that task's code sets `maybe` whichever way it runs."
    )
    assert f"Can't import `maybe` from task {sid}" in missing.info().reason
    unpicklable = hc.task_create_expr("held = lock", namespace={}, imports={"lock": upstream})
    assert ended(unpicklable) == "failure"
    assert str(unpicklable.result()).startswith(
        f"Can't import `lock` from task {sid}: its value (a lock) could not be pickled there."
    )


def test_a_bundle_imports_shared_names_and_its_rows_win(root):
    upstream = hc.task_create_expr("scale = 10\nx = 'from upstream'", namespace={})
    bundle = hc.task_create_bulk_expr(
        "x * scale", [{"x": 1}, {"x": 2}], namespace={}, imports={"scale": upstream, "x": upstream}
    )
    assert bundle.wait(timeout=60)
    assert bundle.result() == [10, 20]
    for task_id in bundle.ids:
        assert hc.task_info(task_id).data["depends_on"] == [upstream.id]


def test_bad_imports_are_refused_and_write_nothing(root):
    upstream = hc.task_create_expr("a = 1", namespace={})
    before = sorted(os.listdir(os.path.join("hipercow", "tasks")))
    with pytest.raises(HipercowError, match="'imports' names variables: '1a'"):
        hc.task_create_expr("b = 1", namespace={}, imports={"1a": upstream})
    with pytest.raises(HipercowError):
        hc.task_create_expr("b = a", namespace={}, imports={"a": "ffffffff"})
    assert sorted(os.listdir(os.path.join("hipercow", "tasks"))) == before


@pytest.fixture
def shell(ip, example_root, capsys):
    """The shell with a clean namespace, in a fresh root on the example cluster."""
    yield from magic_shell(ip, capsys, "text")


def cell(shell, code: str) -> hc.Task:
    """Run a %%hipercow cell; the handle it put in `h`."""
    result = shell.run_cell(f"%%hipercow -o h\n{code}")
    assert result.error_in_exec is None, result.error_in_exec
    return shell.user_ns["h"]


def test_a_cell_reading_a_pending_name_imports_it_without_waiting(shell, capsys):
    first = cell(shell, gated("a = 21"))
    second = cell(shell, "b = a + 1")  # returns at once: `a` is not set yet
    assert first.status() in ("submitted", "running")
    shown = capsys.readouterr().out
    assert "to set `a`" not in shown  # no cell waited for `a`
    assert f"imports: a from task {first.id[:8]}" in shown  # its display says so
    data = second.info().data
    assert (data["imports"], data["depends_on"], data.get("locals")) == (
        {"a": first.id},
        [first.id],
        [],
    )
    shell.user_ns["a"] = "the notebook's own"  # the pending task's value is what is imported
    third = cell(shell, "c = a * 2")
    assert third.info().data["imports"] == {"a": first.id}
    open("go", "w").close()
    assert ended(third) == "success" and ended(second) == "success"
    assert (second.exports(), third.exports()) == ({"b": 22}, {"c": 42})
    shell.run_cell("pass")
    assert [shell.user_ns[n] for n in "abc"] == [21, 22, 42]


def test_a_cell_reading_a_name_a_failed_task_did_not_set_is_refused(shell):
    failed = cell(shell, "lost = 1 / 0")
    assert ended(failed) == "failure"
    shell.run_cell("pass")  # the failure is known before the next cells begin
    before = hc.task_list()
    result = shell.run_cell("%%hipercow\nprint(lost)")
    assert str(result.error_in_exec).startswith(
        f"task {failed.id[:8]}, which sets `lost`, failed: ZeroDivisionError: division by zero;"
    )
    assert hc.task_list() == before  # nothing was created


def test_a_retried_task_imports_from_its_upstreams_retry(root):
    upstream = hc.task_create_expr(
        "import os\nif not os.path.exists('fixed'):\n    raise ValueError('not yet')\na = 7",
        namespace={},
    )
    task = hc.task_create_expr("b = a * 2", namespace={}, imports={"a": upstream})
    assert ended(task) == "cancelled"
    assert task.info().reason == f"upstream task {upstream.id[:8]} failed"
    open("fixed", "w").close()
    new_upstream = hc.task_retry(upstream.id)
    new_task = hc.task_retry(task.id)
    assert new_task.info().data["imports"] == {"a": new_upstream.id}
    assert ended(new_task) == "success"
    assert new_task.exports() == {"b": 14}
    assert f"Imports: a (task {new_upstream.id[:8]})" in hc.task_log_value(new_task.id)
