"""What tasks used, in words: the live line of a running task, the efficiency of an ended
one, and a group's; from figures stored as the drivers store them (usage.json).
"""

from __future__ import annotations

import time

import hipercow_magic as hc
from hipercow_magic.api.usage import (
    efficiency_words,
    size_text,
    totals_words,
    usage_words,
)
from hipercow_magic.core.task import write_terminal
from hipercow_magic.core.usage import Usage, write_usage
from hipercow_magic.engine.usage import Efficiency, Request, efficiencies, totals

MB = 1_000_000


def live(cores_now, memory_now, wall=10.0, cpu=12.0) -> Usage:
    return Usage(
        wall=wall,
        cpu=cpu,
        cores_peak=2.0,
        memory_peak=memory_now,
        cores_now=cores_now,
        memory_now=memory_now,
        running=True,
        source="sampled every 2 s by the local scheduler",
        samples=5,
        updated=time.time(),
    )


def final(wall, cpu, memory_peak, cores_peak=2.0) -> Usage:
    return Usage(wall=wall, cpu=cpu, cores_peak=cores_peak, memory_peak=memory_peak)


def test_sizes_read_as_people_say_them():
    assert size_text(820_000) == "820 kB"
    assert size_text(900 * MB) == "900 MB"
    assert size_text(1_230 * MB) == "1.2 GB"
    assert size_text(16_000 * MB) == "16 GB"
    assert size_text(250_000 * MB) == "250 GB"


def test_a_running_task_says_what_it_uses_now_against_its_request():
    found = Efficiency("a" * 32, "running", live(1.32, 1_200 * MB), Request(4, 8))
    assert efficiency_words(found) == "using 1.3 of 4 cores, 1.2 GB of 8 GB"


def test_memory_alone_when_none_was_asked_for():
    found = Efficiency("a" * 32, "running", live(0.5, 300 * MB), Request(1, None))
    assert efficiency_words(found) == "using 0.5 of 1 core, 300 MB"


def test_an_ended_task_says_its_efficiency():
    usage = final(wall=100.0, cpu=120.0, memory_peak=900 * MB)
    found = Efficiency("a" * 32, "success", usage, Request(4, 16))
    assert efficiency_words(found) == (
        "used 1.2 of 4 cores on average (30%), peak 900 MB of 16 GB (6%)"
    )
    assert found.cores_share == 0.3
    assert round(found.memory_share, 4) == 0.0563


def test_an_ended_task_with_only_a_live_reading_says_it_is_the_last():
    found = Efficiency("a" * 32, "failure", live(1.0, 400 * MB, wall=10, cpu=10), Request(1, 1))
    assert efficiency_words(found) == (
        "used 1.0 of 1 core on average (100%), peak 400 MB of 1 GB (40%) (its last reading)"
    )


def test_nothing_measured_is_none(bare_root):
    task = hc.task_create_expr("1 + 1", namespace={})
    assert usage_words(bare_root, task.id) is None
    assert hc.api.usage.task_usage(task) is None


def test_words_from_a_stored_reading(bare_root):
    resources = hc.hipercow_resources(cores=2, memory_per_process="0.5G")
    task = hc.task_create_expr("1 + 1", namespace={}, resources=resources)
    write_usage(bare_root, task.id, final(wall=10.0, cpu=5.0, memory_peak=250 * MB))
    assert usage_words(bare_root.path, task.id) == (
        "used 0.5 of 2 cores on average (25%), peak 250 MB of 1 GB (25%)"
    )
    assert hc.api.usage.task_usage(task.id).memory_peak == 250 * MB


def test_a_group_says_what_share_of_its_requests_it_used(bare_root):
    resources = hc.hipercow_resources(cores=4, memory_per_node=2)
    bundle = hc.task_create_bulk_expr("x", [{"x": k} for k in range(3)], resources=resources)
    # 10 s on 4 cores each: 80 core-seconds asked; 30 CPU seconds used -> 38%
    for task_id in bundle.ids[:2]:
        write_usage(bare_root, task_id, final(wall=10.0, cpu=15.0, memory_peak=500 * MB))
        write_terminal(bare_root, task_id, "success", result={"value": None})
    found = efficiencies(bare_root, bundle.ids)
    assert [f.status for f in found] == ["success", "success", "created"]
    summary = totals(found)
    assert summary.tasks == 2
    assert totals_words(summary) == (
        "used 38% of the cores and 25% of the memory asked for, across 2 tasks"
    )


def test_a_group_without_memory_requests_names_its_highest_peak():
    ended = [
        Efficiency("a" * 32, "success", final(10.0, 10.0, 300 * MB), Request(1, None)),
        Efficiency("b" * 32, "success", final(10.0, 5.0, 700 * MB), Request(1, None)),
    ]
    assert totals_words(totals(ended)) == (
        "used 75% of the cores asked for, across 2 tasks (peak memory 700 MB; none was asked for)"
    )
    assert totals_words(totals([])) is None


def test_the_chart_draws_a_mark_per_task_against_its_request():
    from hipercow_magic.widgets.usage_chart import nice_top, usage_chart_svg

    assert [nice_top(v) for v in (1.0, 2, 0.32, 3.9, 16)] == [1.2, 2.5, 0.4, 5, 20]
    found = [
        Efficiency("a" * 32, "success", final(10.0, 5.0, 300 * MB), Request(2, 1)),
        Efficiency("b" * 32, "running", live(1.0, 500 * MB), Request(2, 1)),
        Efficiency("c" * 32, "submitted", None, Request(2, 1)),  # nothing to draw yet
    ]
    svg = usage_chart_svg(found, {"a" * 32: "beta=0.1"})
    assert svg.count('class="used"') == 4  # two tasks with figures, in two panels
    assert svg.count('class="asked"') == 4
    assert svg.count('fill-opacity="0.25"') == 2  # the running one is hollow
    assert ">asked 1 GB<" in svg and ">asked 2 cores<" in svg
    assert "beta=0.1: peak 300 MB of 1 GB asked (30%)" in svg
    assert "beta=0.1: 0.5 cores on average of 2 asked (25%)" in svg
    assert usage_chart_svg(found[2:], {}) == ""
