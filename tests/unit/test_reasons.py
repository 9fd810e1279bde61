"""Pending reasons in words: each Slurm code a user may meet, Slurm's detailed variants, the
local driver's codes, and an unknown code shown as it is."""

import pytest

from hipercow_magic.core.reasons import CODES, pending_words

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
