"""A bundle's display on real tasks: the bar stacked by state, the table of tasks by their
parameters (paging, filter, per-row Log, Cancel and Retry), the failures by parameters, the
ETA, the timeline (SVG), the record a saved notebook keeps and the DataFrame of results.
"""

from __future__ import annotations

import os
import re
import sys
import time
import xml.etree.ElementTree as ET

import pytest
from processes import shown_clock, wait_until

import hipercow_magic as hc
from hipercow_magic import api
from hipercow_magic.core.errors import HipercowError
from hipercow_magic.core.format import pretty_dt
from hipercow_magic.widgets.bulk_widget import BulkWidget
from hipercow_magic.widgets.bundle_table import PAGE_SIZE
from hipercow_magic.widgets.model import BulkModel
from hipercow_magic.widgets.text import bulk_text
from hipercow_magic.widgets.timeline import RIGHT, WIDTH, timeline_svg
from hipercow_magic.widgets.updater import Updater, get_updater

SVG = "{http://www.w3.org/2000/svg}"
SWEEP = "if beta == 0.3 and seed % 4 == 3:\n    1 / 0\nbeta * seed"
GRID = [{"beta": beta, "seed": seed} for beta in (0.1, 0.2, 0.3) for seed in range(15)]


def shown_rows(widget: BulkWidget) -> list[list[str]]:
    """The table's visible rows, each as its cells' HTML."""
    return [
        [cell.value for cell in slot.cells]
        for slot in widget.table.slots
        if slot.cells[0].layout.display != "none"
    ]


def text_of(html_text: str) -> str:
    return re.sub(r"<[^>]+>", "", html_text)


def bar_segments(html_text: str) -> dict[str, float]:
    """The stacked bar's segments: state -> width in percent."""
    found = re.findall(r'hipercow-bar-(\w+)" title="[^"]*" style="[^"]*width:([\d.]+)%', html_text)
    return {state: float(width) for state, width in found}


def svg_tasks(svg: str) -> dict[str, list]:
    """The timeline's lanes (by node, in order), each with its task groups."""
    tree = ET.fromstring(svg)  # well-formed XML, or this raises
    assert tree.tag == f"{SVG}svg"
    return {
        lane.get("data-node"): lane.findall(f"{SVG}g[@class='hipercow-timeline-task']")
        for lane in tree.iter(f"{SVG}g")
        if lane.get("class") == "hipercow-timeline-lane"
    }


def test_a_sweep_shows_its_states_rows_by_parameters_pages_failures_and_timeline(example_root):
    bundle = hc.task_create_bulk_expr(SWEEP, GRID, namespace={})
    assert not bundle.wait(timeout=120, fail_early=False)
    model = BulkModel(bundle, example_root)
    widget = BulkWidget(model)
    n_failed = sum(1 for r in GRID if r["beta"] == 0.3 and r["seed"] % 4 == 3)  # seeds 3, 7, 11

    assert model.counts() == {"success": 45 - n_failed, "failure": n_failed}
    segments = bar_segments(widget.bar.value)
    assert segments["success"] == pytest.approx(100 * 42 / 45, abs=0.01)
    assert segments["failure"] == pytest.approx(100 * 3 / 45, abs=0.01)
    assert "45/45 finished" in text_of(widget.bar.value)
    assert "42 success" in widget.counts.value and "3 failure" in widget.counts.value

    # the first page: 20 rows by their parameters, in the bundle's order
    rows = shown_rows(widget)
    assert len(rows) == PAGE_SIZE
    assert [text_of(r[0]) for r in rows] == [
        f"beta={r['beta']}, seed={r['seed']}" for r in GRID[:PAGE_SIZE]
    ]
    assert all("hipercow-success" in r[1] for r in rows)
    assert all(re.fullmatch(r"node-\d|gpu-\d", r[2]) for r in rows)  # where each ran
    assert all(r[3] and r[4] for r in rows)  # waited, ran for
    assert "rows 1–20 of 45 · page 1 of 3" in widget.table.position.value
    assert widget.table.prev.disabled and not widget.table.next.disabled
    widget.table.next.click()
    widget.table.next.click()
    rows = shown_rows(widget)
    assert [text_of(r[0]) for r in rows] == [
        f"beta={r['beta']}, seed={r['seed']}" for r in GRID[40:]
    ]
    assert "rows 41–45 of 45 · page 3 of 3" in widget.table.position.value
    assert widget.table.next.disabled

    # filtered by state: the failures, each with its error line and a Retry button
    assert ("failure (3)", "failure") in widget.table.filter.options
    widget.table.filter.value = "failure"
    rows = shown_rows(widget)
    assert [text_of(r[0]) for r in rows] == [f"beta=0.3, seed={s}" for s in (3, 7, 11)]
    assert all("ZeroDivisionError: division by zero" in r[5] for r in rows)
    assert "page" not in widget.table.position.value  # one page
    assert all(not s.retry.disabled and s.cancel.disabled for s in widget.table.slots[:3])

    # failures listed by parameters, in the widget, its text and its record
    for seed in (3, 7, 11):
        line = f"beta=0.3, seed={seed}: ZeroDivisionError: division by zero"
        assert line in widget.failures.value
        assert f"✖ {line} (task " in bulk_text(model)
    record = widget.record(time.time())
    page = record["text/html"]
    assert "beta=0.3, seed=7: ZeroDivisionError: division by zero" in page
    assert "hipercow-bundle-table" in page and page.count("<tr>") == 46  # header + 45
    assert 'class="hipercow-timeline"' in page and "<details" in page

    # the timeline: one bar per task, in a lane per node it ran on
    svg = re.search(r"<svg.*?</svg>", page, re.S).group(0)
    lanes = svg_tasks(svg)
    assert sum(len(tasks) for tasks in lanes.values()) == 45
    summaries = api.task_summaries(bundle.ids)
    assert set(lanes) == {r["node"] for r in summaries}
    for node, tasks in lanes.items():
        assert len(tasks) == sum(r["node"] == node for r in summaries)
        for task in tasks:
            rects = task.findall(f"{SVG}rect")
            assert [r.get("class") for r in rects] == ["waited", "ran"]
            assert "beta=" in task.find(f"{SVG}title").text


def test_the_timeline_draws_lanes_by_node_waits_runs_and_tasks_not_started():
    now = 1000.0
    rows = [
        {"id": "a" * 32, "status": "success", "node": "node-10", "row": {"k": "1"},
         "created": 900.0, "started": 910.0, "finished": 950.0},
        {"id": "b" * 32, "status": "failure", "node": "node-2", "row": {"k": "2"},
         "created": 900.0, "started": 920.0, "finished": 930.0},
        {"id": "c" * 32, "status": "running", "node": "node-2", "row": {"k": "3"},
         "created": 905.0, "started": 960.0, "finished": None},
        {"id": "d" * 32, "status": "submitted", "node": None, "row": {"k": "4"},
         "created": 910.0, "started": None, "finished": None},
        {"id": "e" * 32, "status": "cancelled", "node": None, "row": None, "name": "late",
         "created": 900.0, "started": None, "finished": 940.0},
    ]  # fmt: skip
    svg = timeline_svg(rows, now)
    lanes = svg_tasks(svg)
    assert list(lanes) == ["node-2", "node-10", "not started"]  # natural order, queued last
    assert [len(t) for t in lanes.values()] == [2, 1, 2]
    bars = {g.find(f"{SVG}title").text.split(":")[0]: g for t in lanes.values() for g in t}
    assert set(bars) == {"k=1", "k=2", "k=3", "k=4", "late"}

    def rects(name):
        return {r.get("class"): r for r in bars[name].findall(f"{SVG}rect")}

    # x grows with time: 900 -> the axis' start, now (1000) -> its end
    done = rects("k=1")
    waited, ran = done["waited"], done["ran"]
    assert float(waited.get("x")) + float(waited.get("width")) == pytest.approx(
        float(ran.get("x")), abs=0.2
    )
    assert float(ran.get("width")) == pytest.approx(4 * float(waited.get("width")), rel=0.02)
    assert waited.get("fill-opacity") == "0.3" and ran.get("fill-opacity") is None
    assert "var(--jp-success-color1, #388e3c)" in ran.get("style")
    assert ran.get("fill") == "#388e3c"  # where the page has no theme variables
    assert "var(--jp-error-color1" in rects("k=2")["ran"].get("style")
    running = rects("k=3")["ran"]
    end = float(running.get("x")) + float(running.get("width"))
    assert end == pytest.approx(WIDTH - RIGHT, abs=0.2)  # runs until now, the right edge
    assert set(rects("k=4")) == {"waited"} and set(rects("late")) == {"waited"}
    assert "k=3: running · on node-2 · waited 55s · ran for 40s" in svg
    tree = ET.fromstring(svg)
    ticks = [t.text for t in tree.iter(f"{SVG}text") if t.text and t.text[0].isdigit()]
    assert ticks[:3] == ["0s", "15s", "30s"]
    assert tree.find(f"{SVG}line[@class='now']") is not None  # tasks still active
    assert timeline_svg([], now) == ""


def test_the_eta_comes_from_the_finished_tasks(example_root):
    code = (
        "import os, time\ngate = 'first' if n < 2 else 'rest'\n"
        "while not os.path.exists(gate):\n    time.sleep(0.05)\nn"
    )
    bundle = hc.task_create_bulk_expr(code, [{"n": n} for n in range(6)], namespace={})
    model = BulkModel(bundle, example_root)
    assert model.eta_text(time.time()) == "ETA unknown: no task has finished yet"
    assert "ETA unknown" in BulkWidget(model).summary.value
    open("first", "w").close()
    wait_until(lambda: api.task_status(bundle.ids[:2]) == ["success"] * 2, timeout=60)
    wait_until(lambda: api.task_status(bundle.ids[2:]) == ["running"] * 4, timeout=60)
    model = BulkModel(bundle, example_root)
    runs = [r["finished"] - r["started"] for r in model.summaries()[:2]]
    mean = sum(runs) / 2
    eta = model.eta_text(time.time())
    assert eta == (
        f"ETA ~{pretty_dt(mean * 4 / 4)}: 4 left × {pretty_dt(mean)} each "
        "(mean of 2 finished), 4 at a time"
    )
    assert eta in BulkWidget(model).summary.value
    open("rest", "w").close()
    bundle.wait(timeout=60)
    model = BulkModel(bundle, example_root)
    assert model.eta_text(time.time()) == ""


def test_row_buttons_show_the_log_cancel_and_retry_and_the_row_follows_the_retry(example_root):
    code = (
        "import os, time\n"
        "if n == 0 and not os.path.exists('fixed'):\n    raise ValueError('no fix')\n"
        "if n == 1:\n    print(f'row {n} says hello', flush=True)\n"
        "    while True:\n        time.sleep(0.05)\n"
        "n * 10"
    )
    bundle = hc.task_create_bulk_expr(code, [{"n": n} for n in range(3)], namespace={})
    wait_until(lambda: api.task_status(bundle.ids) == ["failure", "running", "success"], 60)
    model = BulkModel(bundle, example_root)
    widget = BulkWidget(model)
    updater = get_updater()
    try:
        failed, running, done = widget.table.slots[:3]
        assert [s.retry.disabled for s in (failed, running, done)] == [False, True, True]
        assert [s.cancel.disabled for s in (failed, running, done)] == [True, False, True]
        assert "ValueError: no fix" in failed.cells[5].value

        wait_until(lambda: "row 1 says hello" in (api.task_log_value(bundle.ids[1]) or ""), 30)
        running.log.click()
        assert widget.table.log_box.layout.display is None
        assert "log of n=1 (task " in widget.table.log_title.value
        assert "row 1 says hello" in widget.table.log_text.value

        running.cancel.click()
        assert "cancelled n=1" in widget.message.value
        wait_until(lambda: "hipercow-cancelled" in running.cells[1].value, timeout=30)
        assert "cancelled" in text_of(running.cells[5].value)

        open("fixed", "w").close()
        failed.retry.click()
        assert "retrying n=0" in widget.message.value
        new_id = model.ids[0]
        assert new_id != bundle.ids[0] and failed.task_id == new_id
        wait_until(lambda: "hipercow-success" in failed.cells[1].value, timeout=30)
        assert text_of(failed.cells[0].value) == "n=0"  # the retry keeps its row's place
        assert text_of(failed.cells[5].value) == ""  # no error any more
        assert api.task_result(new_id) == 0
    finally:
        updater.unwatch(model)
        api.task_cancel(model.active_ids())


def test_a_bundle_display_makes_one_status_query_per_refresh_not_one_per_task(
    example_root, monkeypatch
):
    bundle = hc.task_create_bulk_expr(
        "import time\ntime.sleep(0.3 * (n % 3))\nn", [{"n": n} for n in range(30)], namespace={}
    )
    model = BulkModel(bundle, example_root)
    BulkWidget(model)
    calls = {"status": 0, "summaries": 0}
    real_status, real_summaries = api.task_status, api.task_summaries

    def status(*args, **kwargs):
        calls["status"] += 1
        return real_status(*args, **kwargs)

    def summaries(*args, **kwargs):
        calls["summaries"] += 1
        return real_summaries(*args, **kwargs)

    monkeypatch.setattr(api, "task_status", status)
    monkeypatch.setattr(api, "task_summaries", summaries)
    updater = Updater()
    updater._models.append(model)  # ticked by hand below, on this thread
    deadline = time.monotonic() + 120
    while updater.watched() and time.monotonic() < deadline:
        before = dict(calls)
        updater.tick()
        assert calls["status"] - before["status"] == 1  # one for the whole bundle
        assert calls["summaries"] - before["summaries"] <= 1  # the rows that changed, at once
        time.sleep(0.1)
    assert model.counts() == {"success": 30}


def test_result_as_a_data_frame_joins_the_parameters_with_status_and_value(example_root):
    long_name = "a parameter value longer than any short form shows it"
    rows = [
        {"beta": 0.1, "label": long_name, "pair": (1, 2)},
        {"beta": 0.2, "label": "short", "pair": (3, 4)},
        {"beta": 0.3, "label": "fails", "pair": (5, 6)},
    ]
    bundle = hc.task_create_bulk_expr(
        "import os\nif beta == 0.3 and not os.path.exists('fixed'):\n    1 / 0\nbeta * pair[0]",
        rows,
        namespace={},
    )
    bundle.wait(timeout=60, fail_early=False)
    frame = bundle.result(frame=True)
    assert list(frame.columns) == ["beta", "label", "pair", "status", "value", "error", "id"]
    assert frame["label"].tolist() == [long_name, "short", "fails"]  # the values, not "<str>"
    assert frame["pair"].tolist() == [(1, 2), (3, 4), (5, 6)]
    assert frame["status"].tolist() == ["success", "success", "failure"]
    assert frame["value"].tolist()[:2] == [0.1, 0.6000000000000001]
    assert frame["error"].tolist()[2] == "ZeroDivisionError: division by zero"
    assert frame["id"].tolist() == bundle.ids

    open("fixed", "w").close()
    bundle.retry()
    bundle.wait(timeout=60)
    frame = bundle.result(frame=True)
    assert frame["status"].tolist() == ["success"] * 3
    assert frame["value"].tolist()[2] == pytest.approx(1.5)
    assert frame["id"].tolist()[2] != bundle.ids[2]  # the retry that ran
    assert bundle.result(frame=True, follow=False)["status"].tolist()[2] == "failure"
    by_name = hc.hipercow_bundle_result(bundle.name, frame=True)
    assert by_name["value"].tolist() == frame["value"].tolist()

    def scaled(k, scale=1):
        return k * scale

    calls = hc.task_create_bulk_call(scaled, [2, 3], args={"scale": 10})
    calls.wait(timeout=60)
    frame = calls.result(frame=True)
    assert frame[["k", "value"]].values.tolist() == [[2, 20], [3, 30]]


def test_result_as_a_data_frame_without_pandas_says_what_to_install(example_root, monkeypatch):
    bundle = hc.task_create_bulk_expr("x", [{"x": 1}], namespace={})
    bundle.wait(timeout=60)
    monkeypatch.setitem(sys.modules, "pandas", None)  # `import pandas` fails
    with pytest.raises(HipercowError, match=r"needs pandas.*pip install pandas"):
        bundle.result(frame=True)
    assert bundle.result() == [1]


def test_queued_rows_say_why_they_wait(example_root):
    held = hc.task_create_bulk_expr(
        "x", [{"x": 1}], namespace={}, resources=hc.hipercow_resources(hold_until=60)
    )
    after = hc.task_create_bulk_expr("y", [{"y": 1}, {"y": 2}], namespace={}, depends_on=held)
    try:
        submitted = api.task_times(held.ids)[0]["submitted"]
        until = shown_clock(submitted + 3600)
        wait_until(lambda: "held until " in (api.task_summaries(held.ids)[0]["pending"] or ""), 30)
        rows = shown_rows(BulkWidget(BulkModel(held, example_root)))
        assert "hipercow-submitted" in rows[0][1] and f"held until {until}" in rows[0][5]
        rows = shown_rows(BulkWidget(BulkModel(after, example_root)))
        waiting = f"waiting for task {held.ids[0][:8]} (submitted)"
        assert [text_of(r[0]) for r in rows] == ["y=1", "y=2"]
        assert all(waiting in r[5] for r in rows)
        assert all(not r[2] and not r[4] for r in rows)  # no node, never ran
    finally:
        api.task_cancel(held.ids + after.ids)


def test_a_row_button_that_cannot_act_says_why(example_root):
    code = "import os, time\nwhile not os.path.exists('go'):\n    time.sleep(0.05)\n1 / 0"
    bundle = hc.task_create_bulk_expr(code, [{"n": 0}], namespace={})
    model = BulkModel(bundle, example_root)
    widget = BulkWidget(model)
    open("go", "w").close()
    bundle.wait(timeout=60)
    os.unlink("go")
    model.update(dict(zip(bundle.ids, api.task_status(bundle.ids))), time.time())
    row = widget.table.slots[0]
    assert not row.retry.disabled
    [again] = api.task_retry(bundle.ids)  # retried elsewhere: that retry waits for 'go'
    wait_until(lambda: api.task_status(again.id) == "running", timeout=30)
    row.retry.click()  # the row still shows the first task, which has a running retry
    assert widget.message.value.startswith("can't retry n=0: ")
    assert "not have terminal status" in widget.message.value
    assert model.ids == bundle.ids  # the row still shows what it showed
    widget.retry_button.click()
    assert widget.message.value.startswith("can't retry: ")
    assert "not have terminal status" in widget.message.value
    api.task_cancel(again.id)
