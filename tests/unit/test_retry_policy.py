"""Retry policies (checked, stored, printed, given on the command line) and how a retry's
request grows after each kind of failure, within the cluster's limits.
"""

from __future__ import annotations

import argparse

import pytest

import hipercow_magic as hc
from hipercow_magic.cli.args import add_task_options, task_options
from hipercow_magic.core.errors import HipercowError
from hipercow_magic.core.resources import hipercow_resources
from hipercow_magic.core.retry_policy import (
    RetryPolicy,
    chosen_policy,
    parse_retry_option,
    policy_of,
)
from hipercow_magic.drivers.base import ClusterInfo, NodeInfo, QueueInfo
from hipercow_magic.engine.autoretry import attempt_text, grow

CLUSTER = ClusterInfo(
    driver="local",
    name="test",
    nodes=[NodeInfo("node-1", 4, 4), NodeInfo("node-2", 4, 4)],
    queues=[
        QueueInfo("alltasks", ["node-1", "node-2"], default=True),
        QueueInfo("short", ["node-1"], max_runtime=30),
    ],
    default_queue="alltasks",
)


def test_the_default_policy_retries_memory_time_and_node_failures_three_times():
    policy = hc.hipercow_retry_policy()
    assert policy.on == ("out_of_memory", "timeout", "node_failure")
    assert (policy.max_attempts, policy.memory_factor, policy.runtime_factor) == (3, 1.5, 2)
    assert not policy.covers("error")
    text = str(policy)
    assert "retried after: out of memory, out of time, node failure" in text
    assert "at most 3 in all" in text
    assert "memory x 1.5" in text and "time x 2" in text


def test_a_policy_is_stored_and_read_back_unchanged():
    policy = hc.hipercow_retry_policy(on=("error", "timeout"), max_attempts=5, memory_factor=2)
    stored = policy.to_dict()
    assert stored == {
        "on": ["timeout", "error"],
        "max_attempts": 5,
        "memory_factor": 2,
        "runtime_factor": 2,
    }
    assert RetryPolicy.from_dict(stored) == policy
    assert policy_of({"retry_policy": stored}) == policy
    assert policy_of({}) is None
    assert policy_of({"retry_policy": {"on": ["bogus"]}}) is None  # edited by hand


@pytest.mark.parametrize(
    ("kwargs", "words"),
    [
        ({"on": ("out_of_memory", "oom")}, ["Unknown failure class 'oom'", "out_of_memory"]),
        ({"on": ["sigkill", "crash"]}, ["classes 'sigkill', 'crash'", "node_failure, error"]),
        ({"on": ()}, ["'on' must name one or more failure classes"]),
        ({"max_attempts": 0}, ["'max_attempts' must be a whole number from 1, not 0"]),
        ({"max_attempts": 2.5}, ["'max_attempts' must be a whole number from 1, not 2.5"]),
        ({"max_attempts": True}, ["'max_attempts' must be a whole number"]),
        ({"memory_factor": 1}, ["'memory_factor' must be greater than 1", "half as much"]),
        ({"memory_factor": 0.5}, ["'memory_factor' must be greater than 1"]),
        ({"runtime_factor": float("inf")}, ["'runtime_factor' must be greater than 1"]),
        ({"runtime_factor": "2"}, ["'runtime_factor' must be a number greater than 1"]),
    ],
)
def test_bad_policies_are_refused_saying_what_is_wrong(kwargs, words):
    with pytest.raises(HipercowError) as e:
        hc.hipercow_retry_policy(**kwargs)
    for word in words:
        assert word in str(e.value)


def test_whole_number_floats_are_accepted_as_attempts():
    assert hc.hipercow_retry_policy(max_attempts=4.0).max_attempts == 4


def test_retry_argument_chooses_the_policy_or_the_default():
    default = hc.hipercow_retry_policy(on="timeout")
    mine = hc.hipercow_retry_policy(on="error")
    assert chosen_policy(None, default) is default
    assert chosen_policy(None, None) is None
    assert chosen_policy(False, default) is None
    assert chosen_policy(True, None) == hc.hipercow_retry_policy()
    assert chosen_policy(mine, default) is mine
    with pytest.raises(HipercowError, match="must come from hipercow_retry_policy"):
        chosen_policy("timeout", None)


def _parsed(line: list[str]) -> dict:
    parser = argparse.ArgumentParser()
    add_task_options(parser)
    return task_options(parser.parse_args(line))


def test_the_retry_flags_give_a_policy():
    assert _parsed([])["retry"] is None  # the default applies
    assert _parsed(["--retry", "none"])["retry"] is False
    policy = _parsed(["--retry", "out_of_memory,timeout", "--retry-attempts", "5"])["retry"]
    assert policy == hc.hipercow_retry_policy(on=("out_of_memory", "timeout"), max_attempts=5)
    assert _parsed(["--retry", "default"])["retry"] == hc.hipercow_retry_policy()
    assert _parsed(["--retry", "node-failure"])["retry"].on == ("node_failure",)
    with pytest.raises(HipercowError, match="Unknown failure class 'oom'"):
        _parsed(["--retry", "oom"])
    with pytest.raises(HipercowError, match="--retry-attempts needs --retry too"):
        parse_retry_option(None, 4)


def test_out_of_memory_grows_the_memory_asked_for_up_to_the_largest_node():
    policy = hc.hipercow_retry_policy(memory_factor=1.5)
    grown = grow(hipercow_resources(memory_per_node=2), "out_of_memory", policy, CLUSTER)
    assert grown.resources.memory_per_node == 3
    capped = grow(hipercow_resources(memory_per_node=3), "out_of_memory", policy, CLUSTER)
    assert capped.resources.memory_per_node == 4  # 4.5 is more than any node has
    refused = grow(hipercow_resources(memory_per_node=4), "out_of_memory", policy, CLUSTER)
    assert refused.resources is None
    assert refused.why == "4 GB is the most any node has"


def test_fractions_of_a_gigabyte_grow_to_the_megabyte():
    policy = hc.hipercow_retry_policy(memory_factor=4)
    first = grow(hipercow_resources(memory_per_node="0.1"), "out_of_memory", policy, CLUSTER)
    assert first.resources.memory_per_node == 0.4
    second = grow(first.resources, "out_of_memory", policy, CLUSTER)
    assert second.resources.memory_per_node == 1.6
    odd = grow(hipercow_resources(memory_per_node="300M"), "out_of_memory", policy, CLUSTER)
    assert odd.resources.memory_per_node == 1.2


def test_memory_per_process_grows_within_the_node_shared_by_its_processes():
    policy = hc.hipercow_retry_policy(memory_factor=2)
    r = hipercow_resources(cores=2, memory_per_process=1.5)
    grown = grow(r, "out_of_memory", policy, CLUSTER)
    assert grown.resources.memory_per_process == 2  # 2 x 2 GB fills a 4 GB node
    refused = grow(grown.resources, "out_of_memory", policy, CLUSTER)
    assert refused.why == "4 GB for its 2 cores is the most any node has"


def test_a_task_that_asked_for_no_memory_grows_from_its_measured_peak():
    policy = hc.hipercow_retry_policy(memory_factor=2)
    grown = grow(hipercow_resources(), "out_of_memory", policy, CLUSTER, peak_gb=0.35)
    assert grown.resources.memory_per_node == 0.7
    assert grown.peak == 0.35
    unknown = grow(hipercow_resources(), "out_of_memory", policy, CLUSTER)
    assert unknown.resources is None
    assert "asked for no memory and its peak was not measured" in unknown.why


def test_timeout_grows_the_runtime_up_to_the_queue_limit():
    policy = hc.hipercow_retry_policy(runtime_factor=1.5)
    grown = grow(hipercow_resources(max_runtime=1), "timeout", policy, CLUSTER)
    assert grown.resources.max_runtime == 2  # whole minutes, rounded up
    r = hipercow_resources(max_runtime=25, queue="short")
    assert grow(r, "timeout", policy, CLUSTER).resources.max_runtime == 30
    refused = grow(hipercow_resources(max_runtime=30, queue="short"), "timeout", policy, CLUSTER)
    assert refused.why == "30m is the most the short queue allows"
    no_own = grow(hipercow_resources(queue="short"), "timeout", policy, CLUSTER)
    assert no_own.why == "it ran for the whole 30m the short queue allows"


def test_node_failures_and_errors_are_retried_with_the_same_request():
    r = hipercow_resources(cores=2, memory_per_node=1, max_runtime=10)
    for failed in ("node_failure", "error"):
        assert grow(r, failed, hc.hipercow_retry_policy(), CLUSTER).resources == r


def test_an_attempt_says_what_caused_it_and_how_its_request_grew():
    def record(failed, before, after, **more):
        return {
            "attempt": 2,
            "max_attempts": 3,
            "class": failed,
            "before": hipercow_resources(**before).to_dict(),
            "after": hipercow_resources(**after).to_dict(),
            **more,
        }

    memory = record("out_of_memory", {"memory_per_node": 2}, {"memory_per_node": 3})
    assert attempt_text(memory) == "attempt 2 of 3: out of memory at 2 GB, now 3 GB"
    small = record("out_of_memory", {"memory_per_node": "0.1"}, {"memory_per_node": 0.4})
    assert attempt_text(small) == "attempt 2 of 3: out of memory at 100 MB, now 400 MB"
    peak = record("out_of_memory", {}, {"memory_per_node": 0.7}, peak_gb=0.35)
    assert attempt_text(peak) == "attempt 2 of 3: out of memory at 350 MB (its peak), now 700 MB"
    time = record("timeout", {"max_runtime": 1}, {"max_runtime": 2})
    assert attempt_text(time) == "attempt 2 of 3: out of time at 1m, now 2m"
    node = record("node_failure", {}, {})
    assert attempt_text(node) == "attempt 2 of 3: after a node failure, same resources"


def test_the_default_policy_can_come_from_the_environment(monkeypatch):
    from hipercow_magic.core.options import Options

    monkeypatch.delenv("HIPERCOW_RETRY", raising=False)
    assert Options().retry is None  # no retries by default
    monkeypatch.setenv("HIPERCOW_RETRY", "out_of_memory,timeout")
    assert Options().retry == hc.hipercow_retry_policy(on=("out_of_memory", "timeout"))
    monkeypatch.setenv("HIPERCOW_RETRY", "none")
    assert Options().retry is None
    monkeypatch.setenv("HIPERCOW_RETRY", "oom")
    with pytest.warns(hc.HipercowWarning, match="HIPERCOW_RETRY is ignored: Unknown failure"):
        assert Options().retry is None
