"""What tasks used, where people look: a task's display (live while it runs, its efficiency
once ended), a bundle's (its share of the requests and a chart of each task), task_info, and
the suggestion commands; real tasks on the local driver, figures from its sampler.
"""

from __future__ import annotations

import argparse
import re
import time

from processes import ALLOCATES, wait_until

import hipercow_magic as hc
from hipercow_magic import api
from hipercow_magic.api.suggest import hipercow_resources_suggest
from hipercow_magic.api.usage import task_usage, usage_words
from hipercow_magic.cli import commands
from hipercow_magic.widgets.bulk_widget import BulkWidget
from hipercow_magic.widgets.model import BulkModel, TaskModel
from hipercow_magic.widgets.parts import bulk_record_html, task_record_html
from hipercow_magic.widgets.task_widget import TaskWidget
from hipercow_magic.widgets.text import bulk_text, task_text

# holds 200 MB and keeps one core busy for `seconds`
BUSY = """
import time
block = bytearray(200_000_000)
until = time.time() + seconds
while time.time() < until:
    pass
len(block)
"""

LIVE = re.compile(r"^using \d+\.\d of 2 cores, \d+ MB of 1 GB$")
ENDED = re.compile(
    r"^used (\d+\.\d) of 2 cores on average \((\d+)%\), peak (\d+) MB of 1 GB \(\d+%\)$"
)


def refreshed(model, task_ids):
    """Hand the model its tasks' statuses, as the updater does on a tick."""
    statuses = api.task_status(task_ids, follow=False)
    model.update(dict(zip(task_ids, statuses)), time.time())
    return model


def test_a_task_display_shows_its_live_usage_then_its_efficiency(root):
    resources = hc.hipercow_resources(cores=2, memory_per_node="1G")
    task = hc.task_create_expr(BUSY, namespace={"seconds": 8}, resources=resources)
    model = TaskModel(task.id, root)
    widget = TaskWidget(model)
    # while it runs: what it uses now against what it asked for
    wait_until(lambda: refreshed(model, [task.id]).usage and model.status == "running", 40)
    assert LIVE.match(model.usage), model.usage
    assert model.usage in widget.usage.value
    assert f"  {model.usage}" in task_text(model)
    assert model.live
    # once ended: its efficiency, for the widget, its record and its text
    wait_until(lambda: refreshed(model, [task.id]).usage_final, 60)
    assert model.status == "success"
    found = ENDED.match(model.usage)
    assert found, model.usage
    assert 0.5 <= float(found.group(1)) <= 1.3  # one busy core of the two asked for
    assert 200 <= int(found.group(3)) < 1000  # the 200 MB it held, within its 1 GB
    assert model.usage in task_record_html(model, time.time())
    assert model.usage in task_text(model)
    assert not model.live  # nothing more to wait for
    assert usage_words(root, task.id) == model.usage
    usage = task_usage(task)
    assert not usage.running and usage.wall > 0 and usage.cpu > 0
    assert "local scheduler" in usage.source


def test_a_bundle_display_shows_its_share_of_the_requests_and_a_chart(root):
    resources = hc.hipercow_resources(cores=2, memory_per_node="1G")
    bundle = hc.task_create_bulk_expr(
        BUSY, [{"seconds": s} for s in (1, 2, 3)], resources=resources, bundle_name="busy"
    )
    assert hc.hipercow_bundle_wait(bundle, timeout=120)
    model = BulkModel(bundle, root)
    wait_until(lambda: "across 3 tasks" in (refreshed(model, bundle.ids).usage_text() or ""), 30)
    words = model.usage_text()
    assert re.fullmatch(
        r"used \d+% of the cores and \d+% of the memory asked for, across 3 tasks", words
    ), words
    widget = BulkWidget(model)
    assert words in widget.usage.value
    assert words in bulk_text(model)
    widget.chart_fold.selected_index = 0  # opened: the chart is drawn
    chart = widget.chart.value
    assert chart.count('class="used"') == 6  # a mark per task in each of the two panels
    assert chart.count('class="asked"') == 6  # and its request
    assert "seconds=3: peak" in chart  # a mark's tooltip names its task by its parameters
    record = bulk_record_html(model, time.time())
    assert words in record and "what each task used" in record


def test_suggestions_from_a_task_and_a_bundle_on_the_command_line(example_root, capsys):
    resources = hc.hipercow_resources(cores=4, memory_per_node=2)
    bundle = hc.task_create_bulk_expr(
        BUSY, [{"seconds": s} for s in (1, 2)], resources=resources, bundle_name="sized"
    )
    assert hc.hipercow_bundle_wait(bundle, timeout=120)
    wait_until(lambda: all(task_usage(i) and not task_usage(i).running for i in bundle.ids), 30)
    suggestion = hipercow_resources_suggest("sized")
    assert suggestion.based_on == 2
    assert suggestion.resources.cores == 1  # one busy core, not the four asked for
    assert 0.3 <= suggestion.resources.memory_per_node <= 1.0  # its peak x 1.25, not 2 GB
    capsys.readouterr()
    commands.cmd_task(argparse.Namespace(action="suggest", ids=["sized", bundle.ids[0][:8]]))
    out = capsys.readouterr().out
    assert "Suggested resources for bundle 'sized': 1 core" in out
    assert f"Suggested resources for task {bundle.ids[0][:8]}: 1 core" in out
    assert "it asked for 4 cores, queue alltasks, 2GB/node" in out
    # and the request goes straight to a new task
    again = hc.task_create_expr("1 + 1", namespace={}, resources=suggestion.resources)
    assert again.wait(timeout=60)


def test_task_info_prints_its_usage(root):
    task = hc.task_create_expr(BUSY, namespace={"seconds": 1})
    assert task.wait(timeout=60)
    wait_until(lambda: task_usage(task) and not task_usage(task).running, 30)
    info = hc.task_info(task.id)
    info.usage = usage_words(root, task.id)
    assert f"ℹ Usage: {info.usage}" in str(info).splitlines()
    assert info.usage.startswith("used ") and "of 1 core on average" in info.usage


def test_a_task_display_follows_the_attempts_of_its_retry_policy(root):
    policy = hc.hipercow_retry_policy(memory_factor=4, max_attempts=3)
    task = hc.task_create_expr(
        ALLOCATES,
        namespace={"size": 300_000_000},
        resources=hc.hipercow_resources(memory_per_node="0.1"),
        retry=policy,
    )
    model = TaskModel(task.id, root)
    widget = TaskWidget(model)
    assert model.attempt is None  # the first attempt says nothing
    wait_until(lambda: refreshed(model, [model.id]).status == "success", 120)
    assert model.id != task.id  # the display shows the attempt that succeeded
    assert re.fullmatch(r"attempt [23] of 3: out of memory at \d+ MB, now .*", model.attempt)
    assert model.attempt in widget.attempt.value
    assert f"  {model.attempt}" in task_text(model)
    assert model.attempt in task_record_html(model, time.time())
    assert model.value == 300_000_000


def test_a_failure_its_policy_does_not_cover_says_why_it_was_not_retried(root):
    task = hc.task_create_expr("raise ValueError('boom')", retry=hc.hipercow_retry_policy())
    model = TaskModel(task.id, root)
    wait_until(lambda: refreshed(model, [model.id]).status == "failure", 60)
    assert model.id == task.id
    assert model.attempt.startswith("not retried: its policy does not retry after an error")
    assert model.attempt in task_record_html(model, time.time())


# fails the first time it runs for an odd `which`, succeeds the next
FAILS_FIRST_TIME = """
import os
marker = f"ran-{which}"
first = not os.path.exists(marker)
open(marker, "a").write("x")
if first and which % 2:
    raise ValueError(f"first attempt of {which} fails")
which
"""


def test_a_bundle_display_follows_the_attempts_of_its_retry_policy(root):
    policy = hc.hipercow_retry_policy(on=("error",), max_attempts=2)
    bundle = hc.task_create_bulk_expr(
        FAILS_FIRST_TIME, [{"which": k} for k in range(4)], retry=policy, bundle_name="flaky"
    )
    model = BulkModel(bundle, root)
    wait_until(lambda: refreshed(model, model.ids).counts() == {"success": 4}, 120)
    assert model.ids[0::2] == bundle.ids[0::2]  # the rows that succeeded at once
    for old, new in zip(bundle.ids[1::2], model.ids[1::2]):  # the others show their retry
        assert new != old
        assert model.rows[new]["row"] == {"which": repr(bundle.ids.index(old))}
    assert not model.failures()


def test_a_short_task_has_its_final_figures_when_its_wait_returns(root):
    for _ in range(3):
        task = hc.task_create_expr("sum(i * i for i in range(300_000))")
        assert task.wait(timeout=60)
        used = hc.task_usage(task)
        assert used is not None and used.running is False, used
        assert used.cpu > 0 and used.wall > 0
        assert hc.task_info(task).usage.startswith("used ")
