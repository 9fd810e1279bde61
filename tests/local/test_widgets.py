"""The live widgets (real ipywidgets) and their one updater, on the real local driver."""

from __future__ import annotations

import html
import os
import re
import threading
import time
import warnings

import ipywidgets
import pytest
from processes import magic_shell, shown_clock, stop_local_scheduler, wait_until

import hipercow_magic as hc
from hipercow_magic import api
from hipercow_magic.core.tracebacks import traceback_html
from hipercow_magic.drivers.local import LocalDriver
from hipercow_magic.widgets.bulk_widget import BulkWidget
from hipercow_magic.widgets.model import BulkModel, TaskModel, error_text
from hipercow_magic.widgets.task_widget import TaskWidget
from hipercow_magic.widgets.text import bulk_text, task_text
from hipercow_magic.widgets.updater import Updater

TERMINAL = ("success", "failure", "cancelled")


WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"


@pytest.fixture
def shell(ip, example_root, capsys):
    """The shell showing widgets (as in a notebook), in a fresh root on the example cluster."""
    yield from magic_shell(ip, capsys, "widget")


class Published:
    """Every display message the shell publishes (IPython's own publisher still runs)."""

    def __init__(self, publisher):
        self.messages: list[dict] = []
        self._publish = publisher.publish

    def __call__(self, data, metadata=None, source=None, *, transient=None, update=False):
        self.messages.append(
            {"data": data, "display_id": (transient or {}).get("display_id"), "update": update}
        )
        return self._publish(data, metadata, source, transient=transient, update=update)

    def shown(self, display_id: str) -> dict:
        """What the display with this id shows now (its last message)."""
        return [m for m in self.messages if m["display_id"] == display_id][-1]["data"]


@pytest.fixture
def published(ip, monkeypatch):
    """The display messages published during the test."""
    recorder = Published(ip.display_pub)
    monkeypatch.setattr(ip.display_pub, "publish", recorder)
    return recorder


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


def test_task_widget_shows_the_task_live_then_becomes_its_record(shell, published):
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
    live = published.shown(widget.display_id)
    assert WIDGET_VIEW in live and "'live-one': submitted" in live["text/plain"]
    wait_until(lambda: "hipercow-running" in widget.header.value)
    wait_until(lambda: "running for" in widget.timing.value)
    assert "created " in widget.timing.value and "started " in widget.timing.value
    first = widget.timing.value
    wait_until(lambda: widget.timing.value != first, timeout=5)  # counting live
    widget.log_box.selected_index = 0
    wait_until(lambda: "step one" in widget.log_view.value)
    assert not widget.cancel_button.disabled
    assert WIDGET_VIEW in published.shown(widget.display_id)  # live while it runs
    wait_until(lambda: "hipercow-success" in widget.header.value)
    assert "<b>result:</b>" in widget.outcome.value and ">1005</code>" in widget.outcome.value
    assert widget.cancel_button.disabled
    shell.run_cell("pass")
    assert shell.user_ns["y"] == 1005
    wait_until(lambda: "set in the notebook:" in published.shown(widget.display_id)["text/html"])
    record = published.shown(widget.display_id)
    assert WIDGET_VIEW not in record and widget.showing_record
    text = record["text/plain"]
    assert f"✔ hipercow task {task_id[:8]} 'live-one': success" in text
    assert "  result: 1005" in text and "  set in the notebook: time, y" in text
    assert "finished " in text and "ran for " in text and "ran on node-" in text
    assert f"show again: %hipercow show {task_id[:8]}" in text and "retry:" not in text
    assert "step one" in text  # the log's tail
    page = record["text/html"]
    assert "hipercow-success" in page and "<details>" in page and "step one" in page
    assert only_theme_colours(page)


def only_theme_colours(page: str) -> bool:
    """Whether every colour in the page's styles is a JupyterLab variable (with a fallback)."""
    styles = " ".join(re.findall(r'style="([^"]*)"', page))
    fixed = re.sub(r"var\(--jp-[a-z0-9-]+, [^)]*\)", "", styles)
    return "var(--jp-" in styles and not re.search(
        r"#[0-9a-fA-F]{3}|rgba?\(|:\s*(white|black)\b", fixed
    )


def test_task_widget_shows_queue_state_and_cancels(shell, published):
    widget = cell_widget(shell, "held = 1", "--hold-until 60")
    hold = f"held until {shown_clock(hc.task_info(widget.model.id).times['submitted'] + 3600)} (in "
    assert hold in widget.setup.value and "hold until 60" not in widget.setup.value
    # the scheduler's own view, in its words
    wait_until(lambda: "in the queue, held until " in widget.timing.value, timeout=10)
    assert "waiting for " in widget.timing.value and "created " in widget.timing.value
    for word in ("pending", "queued", "PENDING", "BeginTime"):
        assert word not in widget.timing.value
    widget.cancel_button.click()
    assert widget.message.value in ("cancelling…", "")
    wait_until(lambda: "hipercow-cancelled" in widget.header.value)
    wait_until(lambda: widget.message.value == "")  # the badge says it now
    assert "cancelled before it started" in widget.outcome.value
    assert "cancelled: cancelled" not in widget.outcome.value
    assert "nothing was set in the notebook" in widget.outcome.value
    record = published.shown(widget.display_id)
    assert WIDGET_VIEW not in record
    assert "cancelled before it started; nothing was set" in record["text/plain"]
    assert f"retry: %hipercow retry {widget.model.id[:8]}" in record["text/plain"]
    shell.run_cell("pass")
    assert "held" not in shell.user_ns


def test_cancelling_a_running_task_says_how_long_it_ran(shell, published):
    widget = cell_widget(shell, "import time\ntime.sleep(60)")
    wait_until(lambda: "hipercow-running" in widget.header.value)
    wait_until(lambda: "on node-" in widget.timing.value)
    widget.cancel_button.click()
    wait_until(lambda: "hipercow-cancelled" in widget.header.value)
    wait_until(lambda: widget.message.value == "")
    assert "cancelled after running " in widget.outcome.value
    text = published.shown(widget.display_id)["text/plain"]
    assert "cancelled after running " in text and "ran on node-" in text


def test_failure_record_has_the_traceback_and_a_retry_makes_the_display_live_again(
    shell, published
):
    widget = cell_widget(
        shell,
        "import os\nflag = os.path.exists('ok')\n"
        "if not flag:\n    raise RuntimeError('not yet')\nfine = True",
    )
    wait_until(lambda: "hipercow-failure" in widget.header.value)
    trace = error_text(widget.model.error)[1]
    assert "raise RuntimeError" in trace and "RuntimeError: not yet" in trace
    assert traceback_html(trace) in widget.outcome.value
    first_id = widget.model.id
    wait_until(lambda: widget.showing_record)
    record = published.shown(widget.display_id)
    assert WIDGET_VIEW not in record
    assert traceback_html(trace) in record["text/html"]
    text = record["text/plain"]
    assert f"✖ hipercow task {first_id[:8]}: failure" in text
    assert "  error: RuntimeError: not yet" in text and "raise RuntimeError" in text
    assert "\x1b[" not in text  # plain text, no terminal colours
    assert f"retry: %hipercow retry {first_id[:8]}" in text
    open("ok", "w").close()
    new = shell.run_line_magic("hipercow", f"retry {first_id[:8]}")
    assert widget.model.id == new.id != first_id
    assert hc.task_info(widget.model.id).data["type"] == "retry"
    assert WIDGET_VIEW in published.shown(widget.display_id)  # live again
    wait_until(lambda: "hipercow-success" in widget.header.value)
    shell.run_cell("pass")
    assert shell.user_ns["fine"] is True and shell.user_ns["flag"] is True
    wait_until(lambda: "success" in published.shown(widget.display_id).get("text/plain", ""))
    assert WIDGET_VIEW not in published.shown(widget.display_id)


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
    assert "/6 finished" in widget.bar.value
    wait_until(lambda: "6/6 finished" in widget.bar.value)
    assert "4 success" in widget.counts.value and "2 failure" in widget.counts.value
    assert "ValueError: bad 0" in widget.failures.value
    assert "ValueError: bad 3" in widget.failures.value
    assert 'hipercow-bar-failure" title="2 failure"' in widget.bar.value
    assert "waited" in widget.summary.value and "ran for" in widget.summary.value
    assert "2/2 finished" not in widget._repr_mimebundle_()["text/plain"]
    open("fixed", "w").close()
    widget.retry_button.click()
    wait_until(lambda: "6 success" in widget.counts.value)
    assert widget.failures.value == "" and 'title="6 success"' in widget.bar.value
    assert "hipercow-bar-failure" not in widget.bar.value
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


def gated(code: str) -> str:
    """Task code that runs `code` once the file 'go' exists in the root."""
    return f"import os, time\nwhile not os.path.exists('go'):\n    time.sleep(0.05)\n{code}"


class OnThread:
    """Counts calls of a real function made on threads named `name` (it still runs)."""

    def __init__(self, fn, name: str):
        self.fn = fn
        self.name = name
        self.calls = 0

    def __call__(self, *args, **kwargs):
        if threading.current_thread().name == self.name:
            self.calls += 1
        return self.fn(*args, **kwargs)


def test_a_task_display_shows_its_end_when_the_task_ends_not_at_the_next_timed_refresh(
    example_root,
):
    task = hc.task_create_expr(gated("'done'"), namespace={})
    api.task_wait(task.id, timeout=60, for_start=True)
    model = TaskModel(task.id, example_root)
    widget = TaskWidget(model)
    updater = Updater(interval=60, fast_interval=60)  # no timed refresh within the test
    updater.watch(model)
    try:
        # the first refresh, then one once listening (nothing that happens after is missed)
        wait_until(lambda: updater.ticks >= 2, timeout=30)
        assert model.status == "running" and "hipercow-running" in widget.header.value
        open("go", "w").close()
        # only the task's end can wake the updater before its 60 s refresh
        wait_until(lambda: model.status == "success", timeout=30)
        wait_until(lambda: "hipercow-success" in widget.header.value, timeout=30)
        assert model.value == "done"
        wait_until(lambda: not updater.watched(), timeout=30)
    finally:
        updater.stop()


def test_a_bundle_ending_at_once_makes_a_few_status_queries_not_one_per_task(
    tmp_path, monkeypatch, capsys
):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("HIPERCOW_KEY_FILE", str(tmp_path.parent / f"{tmp_path.name}.key"))
    node = {"name": "wide", "cores": 64, "memory": 64}  # room for all 50 tasks at once
    root = hc.hipercow_init(".", driver="local", nodes=[node], idle_timeout=30)
    capsys.readouterr()
    try:
        bundle = hc.task_create_bulk_expr(gated("x"), [{"x": i} for i in range(50)], namespace={})
        wait_until(
            lambda: api.task_status(bundle.ids, follow=False) == ["running"] * 50, timeout=120
        )
        model = BulkModel(bundle, root)
        queries = OnThread(api.task_status, "hipercow-updater")
        monkeypatch.setattr(api, "task_status", queries)
        updater = Updater(interval=60, fast_interval=60)  # no timed refresh within the test
        updater.watch(model)
        try:
            wait_until(lambda: updater.ticks >= 2, timeout=30)  # listening
            before = queries.calls
            open("go", "w").close()
            # only events can wake the updater before its 60 s refresh
            wait_until(lambda: model.counts() == {"success": 50}, timeout=30)
            assert 1 <= queries.calls - before <= 10, queries.calls - before
        finally:
            updater.stop()
    finally:
        stop_local_scheduler(root)


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


def test_show_of_a_finished_task_is_its_record_at_once(shell, published):
    task = hc.task_create_expr("raise KeyError('gone')", namespace={}, name="old")
    api.task_wait(task.id, timeout=30)
    before = len(published.messages)
    shell.run_line_magic("hipercow", f"show {task.id[:8]}")
    [shown] = [m for m in published.messages[before:] if m["display_id"]]
    assert not shown["update"] and WIDGET_VIEW not in shown["data"]
    text = shown["data"]["text/plain"]
    assert f"✖ hipercow task {task.id[:8]} 'old': failure" in text
    assert "  error: KeyError: 'gone'" in text and "ran on node-" in text
    assert f"retry: %hipercow retry {task.id[:8]}" in text
    assert "hipercow-failure" in shown["data"]["text/html"]


def test_nothing_captured_is_not_shown_and_no_word_is_doubled(shell, published):
    widget = cell_widget(shell, "import time\ntime.sleep(0.5)\n'plain'")
    assert widget.captured.value == ""
    wait_until(lambda: widget.showing_record)
    text = published.shown(widget.display_id)["text/plain"]
    assert "  captured:" not in text and "nothing captured" not in text
    for doubled in ("cancelled: cancelled", "captured: nothing", "failure: failure"):
        assert doubled not in text


def test_bulk_display_becomes_a_record_with_counts_times_and_failures(shell, published):
    shell.run_cell("rows = [{'n': n} for n in range(4)]")
    shell.run_cell("%%hipercow --bulk rows -o b\nif n == 2:\n    raise ValueError(f'bad {n}')\nn")
    bundle = shell.user_ns["b"]
    widget = widget_of(BulkWidget, lambda w: w.model.name == bundle.name)
    assert WIDGET_VIEW in published.shown(widget.display_id)
    wait_until(lambda: widget.showing_record)
    record = published.shown(widget.display_id)
    assert WIDGET_VIEW not in record
    text = record["text/plain"]
    assert f"hipercow bundle '{bundle.name}': 4/4 finished" in text
    assert "3 success, 1 failure" in text and "waited " in text and "ran for " in text
    failed = bundle.ids[2][:8]
    assert f"✖ n=2: ValueError: bad 2 (task {failed})" in text
    assert f"hipercow_magic.hipercow_bundle_retry('{bundle.name}')" in text
    page = record["text/html"]
    assert "3 success" in page and "1 failure" in page and "ValueError: bad 2" in page
    assert only_theme_colours(page)


def test_task_info_speaks_the_displays_words(example_root):
    held = hc.task_create_expr(
        "1", namespace={}, resources=hc.hipercow_resources(hold_until=120), name="later"
    )
    text = str(hc.task_info(held.id))
    submitted = hc.task_info(held.id).times["submitted"]
    until = shown_clock(submitted + 7200)
    assert f"held until {until} (in " in text and "hold until 120" not in text
    wait_until(
        lambda: "Scheduler: position 1 in the queue, held until " in str(hc.task_info(held.id))
    )
    assert "PENDING" not in str(hc.task_info(held.id))
    hc.task_cancel(held.id)
    text = str(hc.task_info(held.id))
    assert "✖ Cancelled before it started" in text and "cancelled: cancelled" not in text
    created = time.strftime("%H:%M:%S", time.localtime(hc.task_info(held.id).times["created"]))
    assert f"ℹ Created at {created} (" in text
    ran = hc.task_create_expr("1", namespace={}, resources=hc.hipercow_resources(queue="fast"))
    assert ran.wait(timeout=60)
    node = hc.task_info(ran.id).node
    assert node in ("node-1", "node-2", "gpu-3", "gpu-4")  # the example cluster's nodes
    assert f"ℹ Ran on {node}" in str(hc.task_info(ran.id))  # kept after the task ended
