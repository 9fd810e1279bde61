"""Pending reasons in words: each Slurm code a user may meet, Slurm's detailed variants, the
local driver's codes, and an unknown code shown as it is; Slurm's refusals of a request
naming the limit; Slurm's estimated start shown only where it means something."""

import pytest

from hipercow_magic.core.reasons import CODES, pending_words
from hipercow_magic.core.resources import Resources
from hipercow_magic.drivers.base import ClusterInfo, NodeInfo, QueueInfo
from hipercow_magic.drivers.slurm.parse import JobState
from hipercow_magic.drivers.slurm.pending import AHEAD_NO_LIMIT, NO_LIMIT, start_estimate
from hipercow_magic.drivers.slurm.refusals import refusal_words

# code -> (words the sentence must hold, words the action must hold; None: no action)
EXPECTED = {
    "Priority": ("higher priority", "max_runtime"),
    "Resources": ("free resources", "max_runtime"),
    "Dependency": ("jobs it depends on", None),
    "DependencyNeverSatisfied": ("never start", "retry the task it depends on"),
    "BeginTime": ("held until its start time", None),
    "JobHeldUser": ("held by its user", "scontrol release"),
    "JobHeldAdmin": ("held by the cluster's administrators", "administrators"),
    "JobArrayTaskLimit": ("array_limit", "raise array_limit"),
    "QOSMaxJobsPerUserLimit": ("QOS's limit on running jobs per user", "other jobs end"),
    "QOSMaxCpuPerUserLimit": ("QOS's limit on cores per user", "other jobs end"),
    "AssocGrpCpuLimit": ("account's limit on cores at once", "other jobs"),
    "AssocGrpCPUMinutesLimit": ("account's budget of CPU-minutes is used up", "for more"),
    "AssocMaxJobsLimit": ("account's limit on running jobs", "other jobs end"),
    "PartitionTimeLimit": ("longer than its partition allows", "shorter max_runtime"),
    "PartitionNodeLimit": ("partition's limits", "fewer resources"),
    "PartitionDown": ("partition is down", "another queue"),
    "ReqNodeNotAvail": ("node it needs is not available", "requested_nodes"),
    "Reservation": ("reservation to begin", None),
    "InvalidQOS": ("QOS is invalid", "--qos"),
    "NodeDown": ("node it needs is down", "administrators"),
    "launch failed requeued held": ("launch failed", "scontrol release"),
    "QOSGrpCpuLimit": ("QOS's limit on cores at once", "other jobs"),
    "AssocGrpMemLimit": ("account's limit on memory at once", "other jobs"),
    "QOSMaxWallDurationPerJobLimit": ("time limit is longer than its QOS's limit", "shorter"),
    "PartitionConfig": ("partition's configuration", "another queue"),
    "Licenses": ("license", None),
    "BadConstraints": ("constraints", "constraint"),
    "Cleaning": ("cleaning up", None),
    "InvalidAccount": ("account is invalid", "account="),
    "QOSMaxNodePerJobLimit": ("more nodes than its QOS's limit per job", "fewer nodes"),
    "AssocMaxCpuPerJobLimit": ("more cores than its account's limit per job", "fewer cores"),
    "MaxJobsPerAccount": ("running jobs per account", "other jobs end"),
    "QOSGrpCPURunMinutesLimit": ("CPU-minutes of running jobs", "shorter max_runtime"),
    "QOSMaxSubmitJobPerUserLimit": ("submitted jobs per user", "fewer tasks"),
    "QOSMinCpuNotSatisfied": ("fewer cores than its QOS's minimum", "more cores"),
    "AssocGrpGRES": ("generic resources", "other jobs"),
    "Nodes required for job are DOWN, DRAINED or reserved for jobs in higher priority partitions": (
        "down, drained or reserved",
        "administrators",
    ),
}


@pytest.mark.parametrize("code", sorted(EXPECTED))
def test_each_code_reads_as_a_sentence_with_its_action(code):
    words, action = pending_words(code)
    sentence, todo = EXPECTED[code]
    assert words != code
    assert sentence in words
    if todo is None:
        assert action is None
    else:
        assert todo in action


def test_at_least_twenty_codes_are_translated():
    translated = [c for c in EXPECTED if pending_words(c)[0] != c]
    assert len(translated) >= 20
    assert len(CODES) >= 20


def test_an_unknown_code_is_shown_as_it_is():
    assert pending_words("SomethingNewInSlurm99") == ("SomethingNewInSlurm99", None)
    assert pending_words("MaxArraySize") == ("MaxArraySize", None)
    assert pending_words("") == ("", None)


def test_slurm_variants_with_details_and_parentheses():
    words, action = pending_words("ReqNodeNotAvail, UnavailableNodes:node-1,node-2")
    assert words.startswith("waiting: a node it needs is not available")
    assert words.endswith("(unavailable: node-1,node-2)")
    assert "requested_nodes" in action
    words, _ = pending_words("ReqNodeNotAvail, Reserved for maintenance")
    assert words.endswith("(Reserved for maintenance)")
    assert pending_words("(Priority)") == pending_words("Priority")
    assert pending_words(" Resources ") == pending_words("Resources")


def _cluster():
    return ClusterInfo(
        "slurm",
        "test",
        [NodeInfo("n1", 4, 15)],
        [QueueInfo("alltasks", ["n1"], None, True), QueueInfo("fast", ["n1"], 60)],
        "alltasks",
    )


@pytest.mark.parametrize(
    ("said", "resources", "config", "words"),
    [
        (
            "allocation failure: Requested node configuration is not available",
            {"cores": 4, "memory_per_process": 15},
            {},
            "no node of partition alltasks has 4 cores and 60 GB of memory (15 GB per process); "
            "the largest has 4 cores and 15 GB",
        ),
        (
            "allocation failure: More processors requested than permitted",
            {"cores": 8, "queue": "fast"},
            {},
            "it asks for 8 cores and the nodes of partition fast have 4 at most",
        ),
        (
            "allocation failure: Requested time limit is invalid (missing or exceeds some limit)",
            {"queue": "fast", "max_runtime": 120},
            {},
            "a max_runtime of 2h is longer than partition fast allows (1h)",
        ),
        (
            "sbatch: error: Invalid generic resource (gres) specification",
            {},
            {},
            "sbatch_args ask for a generic resource (--gres) no node has",
        ),
        (
            "allocation failure: Invalid account or account/partition combination specified",
            {},
            {"account": "lab"},
            "lab may not submit to partition alltasks",
        ),
        (
            "allocation failure: Invalid node name specified",
            {"requested_nodes": ["n9"]},
            {},
            "it requested n9, not a node of partition alltasks",
        ),
        ("sbatch: error: something new", {}, {}, "sbatch: error: something new"),
    ],
)
def test_slurms_refusals_name_the_limit(said, resources, config, words):
    assert refusal_words(said, Resources(**resources), config, _cluster()) == words


def test_slurms_estimated_start_is_shown_only_when_it_means_something():
    now = 1_000_000_000.0
    year = now + 365 * 86400

    def row(reason, start, limit):
        return JobState("1", "t", "PENDING", reason, start=start, time_limit=limit)

    assert start_estimate(row("Resources", now + 600, "5:00"), now) == (now + 600, None)
    assert start_estimate(row("Resources", year, "UNLIMITED"), now) == (None, NO_LIMIT)
    assert start_estimate(row("Priority", year, "5:00"), now) == (None, AHEAD_NO_LIMIT)
    assert start_estimate(row("BeginTime", now + 3600, "UNLIMITED"), now) == (now + 3600, None)
    assert start_estimate(row("JobHeldUser", now + 60, "5:00"), now) == (None, None)
    assert start_estimate(row("Dependency", now + 60, "5:00"), now) == (None, None)
    running = JobState("1", "t", "RUNNING", None, start=now, time_limit="5:00")
    assert start_estimate(running, now) == (None, None)
