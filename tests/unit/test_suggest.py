"""hipercow_resources_suggest: the arithmetic (p95 of peaks x 1.25, cores from average use,
within the largest node) and its reasons, from figures stored as drivers store them.
"""

from __future__ import annotations

import warnings

import pytest

import hipercow_magic as hc
from hipercow_magic.api.suggest import (
    cores_to_ask,
    hipercow_resources_suggest,
    memory_to_ask,
    percentile,
)
from hipercow_magic.core.task import write_terminal
from hipercow_magic.core.usage import Usage, write_usage

MB = 1_000_000


def ended(root, task_id, cpu, memory_peak, wall=10.0, cores_peak=1.0, status="success"):
    usage = Usage(wall=wall, cpu=cpu, cores_peak=cores_peak, memory_peak=memory_peak)
    write_usage(root, task_id, usage)
    write_terminal(root, task_id, status, result={"value": None})


def bulk(n, **resources):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # no driver: resources are not checked against one
        return hc.task_create_bulk_expr(
            "x",
            [{"x": k} for k in range(n)],
            resources=hc.hipercow_resources(**resources),
            bundle_name="sweep",
        )


def test_the_arithmetic():
    assert percentile([1.0]) == 1.0
    assert percentile(list(range(1, 41))) == 38  # nearest rank: the 38th of 40
    assert percentile(list(range(1, 20))) == 19
    assert memory_to_ask(900 * MB) == 1.2  # 1.125 rounded up to a tenth
    assert memory_to_ask(10 * MB) == 0.1  # never below 0.1 GB
    assert memory_to_ask(12_000 * MB) == 15.0  # whole GB above 10
    assert cores_to_ask(0.2) == 1
    assert cores_to_ask(1.05) == 1  # a process's own upkeep is not a core
    assert cores_to_ask(1.2) == 2
    assert cores_to_ask(3.95) == 4


def test_a_bundle_gets_p95_memory_with_a_margin_and_cores_from_average_use(bare_root):
    bundle = bulk(40, cores=4, memory_per_node=16, queue="bigmem")
    for k, task_id in enumerate(bundle.ids):
        # peaks 100..680 MB, then 900 MB, then two outliers of 5 GB that the p95 leaves
        # out; averages 1.0 and 1.2 cores
        peak = 5000 * MB if k >= 38 else 900 * MB if k >= 30 else (100 + 20 * k) * MB
        ended(bare_root, task_id, cpu=10.0 + 2.0 * (k >= 20), memory_peak=peak, cores_peak=1.9)
    suggestion = hipercow_resources_suggest(bundle)
    assert suggestion.based_on == 40
    assert suggestion.resources.cores == 2
    assert suggestion.resources.memory_per_node == 1.2
    assert suggestion.resources.queue == "bigmem"  # the rest of the request is kept
    assert suggestion.reasons == [
        "cores: used 1.2 on average (p95 over 40 tasks), peak 1.9 -> 2 cores",
        "peak memory 0.9 GB (p95 over 40 tasks) x 1.25 = 1.2 GB",
    ]
    text = str(suggestion)
    assert text.startswith("Suggested resources for bundle 'sweep': 2 cores")
    assert "it asked for 4 cores, queue bigmem, 16GB/node" in text
    assert "hipercow_resources(cores=2, memory_per_node='1.2G')" in text
    assert "--cores 2 --memory-per-node 1.2G" in text
    # the same by the bundle's name
    assert hipercow_resources_suggest("sweep").resources == suggestion.resources


def test_successes_are_preferred_and_failures_alone_are_said(bare_root):
    bundle = bulk(3, cores=1)
    ended(bare_root, bundle.ids[0], cpu=10.0, memory_peak=200 * MB)
    ended(bare_root, bundle.ids[1], cpu=10.0, memory_peak=3000 * MB, status="failure")
    assert hipercow_resources_suggest(bundle).resources.memory_per_node == 0.3
    only = hipercow_resources_suggest(bundle.ids[1])
    assert only.subject == f"task {bundle.ids[1][:8]}"
    assert only.resources.memory_per_node == 3.8
    assert only.reasons[-1] == "from 1 task that did not succeed"


def test_too_little_to_go_on_keeps_the_request_and_says_why(bare_root):
    bundle = bulk(2, cores=2, memory_per_node=4)
    suggestion = hipercow_resources_suggest(bundle)
    assert suggestion.based_on == 0
    assert suggestion.resources.cores == 2 and suggestion.resources.memory_per_node == 4
    assert str(suggestion) == (
        "No suggestion for bundle 'sweep': too little to go on: no task has finished with "
        "figures of what it used (2 created); run some first, then ask again"
    )


def test_a_task_by_its_id_prefix_and_unknown_names(bare_root):
    bundle = bulk(1, cores=1)
    ended(bare_root, bundle.ids[0], cpu=2.0, memory_peak=50 * MB)
    assert hipercow_resources_suggest(bundle.ids[0][:6]).resources.memory_per_node == 0.1
    with pytest.raises(hc.HipercowError, match="No task or bundle 'nothing-here'"):
        hipercow_resources_suggest("nothing-here")
