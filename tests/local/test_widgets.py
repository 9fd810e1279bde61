"""The live widgets (real ipywidgets) and their one updater, on the real local driver."""

from __future__ import annotations

import html
import os
import threading
import time
import warnings

import ipywidgets
import pytest
from processes import magic_shell, wait_until

import hipercow_magic as hc
from hipercow_magic import api
from hipercow_magic.drivers.local import LocalDriver
from hipercow_magic.widgets.bulk_widget import BulkWidget
from hipercow_magic.widgets.model import BulkModel, TaskModel
from hipercow_magic.widgets.task_widget import TaskWidget
from hipercow_magic.widgets.text import bulk_text, task_text
from hipercow_magic.widgets.updater import Updater

TERMINAL = ("success", "failure", "cancelled")


@pytest.fixture
def shell(ip, example_root, capsys):
    """The shell showing widgets (as in a notebook), in a fresh root on the example cluster."""
    yield from magic_shell(ip, capsys, "widget")


def widget_of(kind, predicate):
    """The live widget of `kind` the magic displayed (from ipywidgets' own registry)."""
    found = [
        w
        for w in list(ipywidgets.widgets.widget._instances.values())
        if isinstance(w, kind) and predicate(w)
    ]
    assert found, f"no {kind.__name__} displayed"
    return found[-1]


def cell_widget(shell, code: str, options: str = "") -> TaskWidget:
    result = shell.run_cell(f"%%hipercow {options} -o h\n{code}")
    assert result.error_in_exec is None, result.error_in_exec
    task = shell.user_ns["h"]
    return widget_of(TaskWidget, lambda w: w.model.id == task.id)


def test_task_widget_shows_the_task_live(shell):
    shell.user_ns.update(x=5, big=list(range(1000)))
    widget = cell_widget(
        shell,
        "import time\nprint('step one')\ntime.sleep(1.5)\ny = x + len(big)\ny",
        "--cores 2 --name live-one",
    )
    task_id = widget.model.id
    assert task_id[:8] in widget.header.value and "live-one" in widget.header.value
    assert "driver local · 2 cores, queue alltasks" in widget.setup.value
    assert "x (" in widget.captured.value and "big (" in widget.captured.value
    wait_until(lambda: "hipercow-running" in widget.header.value)
    wait_until(lambda: "ran for" in widget.timing.value)
    first = widget.timing.value
    wait_until(lambda: widget.timing.value != first, timeout=5)  # counting live
    widget.log_box.selected_index = 0
    wait_until(lambda: "step one" in widget.log_view.value)
    assert not widget.cancel_button.disabled and widget.retry_button.disabled
    wait_until(lambda: "hipercow-success" in widget.header.value)
    assert "<b>result:</b> <code>1005</code>" in widget.outcome.value
    shell.run_cell("pass")
    assert shell.user_ns["y"] == 1005
    wait_until(
        lambda: "set in the notebook: <code>time</code>, <code>y</code>" in widget.outcome.value
    )
    assert widget.cancel_button.disabled and not widget.retry_button.disabled
    bundle = widget._repr_mimebundle_()
    assert "application/vnd.jupyter.widget-view+json" in bundle
    assert f"hipercow task {task_id[:8]} 'live-one': success" in bundle["text/plain"]


def test_task_widget_shows_queue_state_and_cancels(shell):
    widget = cell_widget(shell, "held = 1", "--hold-until 60")
    wait_until(
        lambda: (
            "position" in widget.timing.value
            or "held" in widget.timing.value
            or "reason" in widget.timing.value
        ),
        timeout=10,
    )
    assert "pending" in widget.timing.value and "waited" in widget.timing.value
    widget.cancel_button.click()
    wait_until(lambda: "hipercow-cancelled" in widget.header.value)
    assert "nothing was set in the notebook" in widget.outcome.value
    shell.run_cell("pass")
    assert "held" not in shell.user_ns


def test_failure_shows_the_node_traceback_and_retry_follows(shell):
    shell.user_ns["attempts"] = 0
    widget = cell_widget(
        shell,
        "import os\nflag = os.path.exists('ok')\n"
        "if not flag:\n    raise RuntimeError('not yet')\nfine = True",
    )
    wait_until(lambda: "hipercow-failure" in widget.header.value)
    assert "RuntimeError: not yet" in widget.outcome.value
    assert "Traceback" in widget.outcome.value and "raise RuntimeError" in widget.outcome.value
    first_id = widget.model.id
    open("ok", "w").close()
    widget.retry_button.click()
    assert widget.model.id != first_id
    assert hc.task_info(widget.model.id).data["type"] == "retry"
    wait_until(lambda: "hipercow-success" in widget.header.value)
    shell.run_cell("pass")
    assert shell.user_ns["fine"] is True and shell.user_ns["flag"] is True


def test_retry_from_the_line_magic_moves_the_widget_to_the_new_task(shell):
    widget = cell_widget(
        shell, "import os\nif not os.path.exists('go'):\n    raise OSError('no')\nwent = True"
    )
    wait_until(lambda: "hipercow-failure" in widget.header.value)
    open("go", "w").close()
    first = widget.model.id
    new = shell.run_line_magic("hipercow", f"retry {first[:8]}")
    assert widget.model.id == new.id != first
    wait_until(lambda: "hipercow-success" in widget.header.value)
    shell.run_cell("pass")
    assert shell.user_ns["went"] is True


def test_full_log_button(shell):
    widget = cell_widget(shell, "for i in range(60):\n    print('line', i)")
    wait_until(lambda: "hipercow-success" in widget.header.value)
    widget.log_button.click()
    assert widget.log_box.selected_index == 0
    assert "line 0\n" in widget.log_view.value and "line 59" in widget.log_view.value


def test_bulk_widget_counts_failures_retry_and_cancel(shell):
    shell.run_cell("rows = [{'n': n} for n in range(6)]")
    shell.run_cell(
        "%%hipercow --bulk rows -o b\nimport os\n"
        "if n % 3 == 0 and not os.path.exists('fixed'):\n    raise ValueError(f'bad {n}')\n"
        "n * 10"
    )
    bundle = shell.user_ns["b"]
    widget = widget_of(BulkWidget, lambda w: w.model.name == bundle.name)
    assert widget.progress.max == 6
    wait_until(lambda: widget.progress.value == 6)
    assert "4 success" in widget.counts.value and "2 failure" in widget.counts.value
    assert "ValueError: bad 0" in widget.failures.value
    assert "ValueError: bad 3" in widget.failures.value
    assert widget.progress.bar_style == "danger"
    assert "waited" in widget.summary.value and "ran for" in widget.summary.value
    assert "2/2 finished" not in widget._repr_mimebundle_()["text/plain"]
    open("fixed", "w").close()
    widget.retry_button.click()
    wait_until(lambda: "6 success" in widget.counts.value)
    assert widget.failures.value == "" and widget.progress.bar_style == "success"
    assert bundle.result() == [0, 10, 20, 30, 40, 50]
    assert "c" not in shell.user_ns

    shell.run_cell("slow = [{'s': 30}] * 3")
    shell.run_cell("%%hipercow --bulk slow -o b2\nimport time\ntime.sleep(s)")
    bundle2 = shell.user_ns["b2"]
    widget2 = widget_of(BulkWidget, lambda w: w.model.name == bundle2.name)
    widget2.cancel_button.click()
    wait_until(lambda: "3 cancelled" in widget2.counts.value)


def test_task_list_table_widget_redisplays_a_task_live(shell):
    task = hc.task_create_expr("1", namespace={}, name="listed")
    api.task_wait(task.id, timeout=20)
    before = set(ipywidgets.widgets.widget._instances)
    shell.run_line_magic("hipercow", "list")
    [table] = [
        w
        for k, w in ipywidgets.widgets.widget._instances.items()
        if k not in before and "hipercow-task-list" in getattr(w, "_dom_classes", ())
    ]
    html = table.children[0].value
    assert "<table" in html and task.id[:8] in html and "listed" in html
    assert "hipercow-success" in html
    assert f"{task.id[:8]}  listed  success" in table._repr_mimebundle_()["text/plain"]
    picker, button = table.children[1].children
    assert picker.value == task.id
    button.click()
    widget = widget_of(TaskWidget, lambda w: w.model.id == task.id)
    assert "hipercow-success" in widget.header.value


class Counting:
    """Counts calls of a real function made on this thread (it still runs)."""

    def __init__(self, fn):
        self.fn = fn
        self.calls = 0
        self.thread = threading.get_ident()

    def __call__(self, *args, **kwargs):
        if threading.get_ident() == self.thread:
            self.calls += 1
        return self.fn(*args, **kwargs)


def test_updater_makes_one_status_query_per_tick_for_many_widgets(example_root, monkeypatch):
    tasks = [
        hc.task_create_expr(f"import time\ntime.sleep({1 + i % 2})\nv = {i}", namespace={})
        for i in range(12)
    ]
    models = [TaskModel(t.id, example_root) for t in tasks]
    widgets = [TaskWidget(m) for m in models]
    api_calls = Counting(api.task_status)
    driver_calls = Counting(LocalDriver.status)
    monkeypatch.setattr(api, "task_status", api_calls)
    monkeypatch.setattr(LocalDriver, "status", lambda self, ids: driver_calls(self, ids))
    updater = Updater(interval=0.1, fast_interval=0.1)
    for m in models:
        updater._models.append(m)  # ticked by hand below, on this thread
    for _ in range(5):
        before_api, before_driver = api_calls.calls, driver_calls.calls
        updater.tick()
        assert api_calls.calls - before_api == 1
        assert driver_calls.calls - before_driver <= 1
    deadline = time.monotonic() + 30
    while updater.watched() and time.monotonic() < deadline:
        updater.tick()
        time.sleep(0.2)
    assert not updater.watched()
    assert all("hipercow-success" in w.header.value for w in widgets)
    quiet = api_calls.calls
    updater.tick()
    assert api_calls.calls == quiet  # finished tasks are no longer queried


def test_model_of_a_bundle_follows_retries(example_root):
    bundle = hc.task_create_bulk_expr("1 / x", [{"x": 0}, {"x": 1}], namespace={})
    bundle.wait(timeout=20, fail_early=False)
    model = BulkModel(bundle, example_root)
    assert model.counts() == {"failure": 1, "success": 1}
    assert "ZeroDivisionError" in model.failures()[0][1]


def test_a_failing_status_query_shows_on_every_display_and_clears_when_it_works(example_root):
    task = hc.task_create_expr("import time\ntime.sleep(4)\n'done'", namespace={})
    bundle = hc.task_create_bulk_expr("import time\ntime.sleep(s)", [{"s": 4}] * 2, namespace={})
    api.task_wait(task.id, timeout=30, for_start=True)
    task_model, bulk_model = TaskModel(task.id, example_root), BulkModel(bundle, example_root)
    task_widget, bulk_widget = TaskWidget(task_model), BulkWidget(bulk_model)
    updater = Updater()
    updater._models += [task_model, bulk_model]  # ticked by hand below, on this thread
    updater.tick()
    assert task_model.problem is None and task_widget.problem.value == ""

    config = example_root.config_path("local")
    with open(config) as f:
        good = f.read()
    with open(config, "w") as f:
        f.write("{ not json")  # the driver's configuration can't be read: no statuses
    updater.tick()
    for model, widget, text in [
        (task_model, task_widget, task_text),
        (bulk_model, bulk_widget, bulk_text),
    ]:
        assert model.problem.startswith("can't get task statuses (JSONDecodeError: ")
        assert "showing the last known state, asking again" in model.problem
        assert html.escape(model.problem) in widget.problem.value
        assert f"  ! {model.problem}" in text(model).splitlines()
    assert task_model.status == "running"  # the last known state, still shown
    assert updater.watched() == [task_model, bulk_model]  # still asked about, every tick
    updater.tick()
    assert task_model.problem.startswith("can't get task statuses")

    with open(config, "w") as f:
        f.write(good)
    updater.tick()
    assert task_model.problem is None and bulk_model.problem is None
    assert task_widget.problem.value == "" and bulk_widget.problem.value == ""
    assert "!" not in task_text(task_model) and "!" not in bulk_text(bulk_model)
    deadline = time.monotonic() + 30
    while updater.watched() and time.monotonic() < deadline:
        updater.tick()
        time.sleep(0.2)
    assert "hipercow-success" in task_widget.header.value
    assert "3 success" not in bulk_widget.counts.value and "2 success" in bulk_widget.counts.value


def test_a_driver_that_cannot_be_asked_shows_on_the_display_and_finished_tasks_still_show(
    example_root,
):
    task = hc.task_create_expr("import time\ntime.sleep(1)\n'done'", namespace={})
    api.task_wait(task.id, timeout=30, for_start=True)
    model = TaskModel(task.id, example_root)
    widget = TaskWidget(model)
    updater = Updater()
    updater._models.append(model)  # ticked by hand below, on this thread
    config = example_root.config_path("local")
    with open(config) as f:
        good = f.read()
    os.unlink(config)  # the driver is no longer configured: it can't be asked
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # displays say it on the model, not as a warning
            updater.tick()
        assert model.problem.startswith("can't get task statuses (Can't ask driver 'local'")
        assert html.escape(model.problem) in widget.problem.value
        assert f"  ! {model.problem}" in task_text(model).splitlines()
        deadline = time.monotonic() + 30
        while model.status != "success" and time.monotonic() < deadline:
            time.sleep(0.2)
            updater.tick()  # the task's own files still say when it ends
        assert model.status == "success" and "hipercow-success" in widget.header.value
    finally:
        with open(config, "w") as f:
            f.write(good)


def test_a_display_that_fails_to_update_says_it_stopped(example_root):
    task = hc.task_create_expr("import time\ntime.sleep(30)", namespace={})
    api.task_wait(task.id, timeout=30, for_start=True)
    model = TaskModel(task.id, example_root)
    widget = TaskWidget(model)

    def broken_view(now):
        raise RuntimeError("cannot draw")

    model.on_change(broken_view)
    updater = Updater()
    updater._models.append(model)
    updater.tick()  # the updater itself keeps going
    assert model.problem == "display stopped updating: RuntimeError: cannot draw"
    assert html.escape(model.problem) in widget.problem.value
    assert "  ! display stopped updating: RuntimeError: cannot draw" in task_text(model)
    assert not updater.watched()
    api.task_cancel(task.id)
