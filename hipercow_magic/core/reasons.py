"""Why a queued task waits, in words: a scheduler's pending reason code (Slurm's, or the
local driver's) as a sentence, and what to do about it.

Slurm's meanings follow its documentation (`man squeue`, "JOB REASON CODES", and
https://slurm.schedmd.com/job_reason_codes.html). The many limit codes of associations and
QOSs (`AssocGrpCpuLimit`, `QOSMaxWallDurationPerJobLimit`, `MaxJobsPerAccount`...) are read
by their parts: whose limit (the account's association, the QOS), its kind (an aggregate
`Grp` limit of everyone sharing it, a per-job, per-node or per-user `Max` limit) and the
resource it counts.
"""

from __future__ import annotations

import re

WAIT = None  # no action: the task starts by itself in time
ADMIN = "ask the cluster's administrators"
BACKFILL = "a shorter max_runtime (--max-runtime) may let it start sooner, in a gap (backfill)"

# code -> (why it waits, what to do or None)
CODES: dict[str, tuple[str, str | None]] = {
    "Priority": (
        "waiting behind jobs of higher priority in its partition",
        BACKFILL,
    ),
    "Resources": (
        "waiting for free resources: the cores, memory or nodes it asked for are in use",
        BACKFILL,
    ),
    "Dependency": ("waiting for the jobs it depends on to succeed", WAIT),
    "DependencyNeverSatisfied": (
        "will never start: a job it depends on ended without success",
        "cancel it, then retry the task it depends on",
    ),
    "BeginTime": ("held until its start time (hold_until)", WAIT),
    "JobHeldUser": (
        "held by its user",
        "release it (scontrol release with its job id) or cancel it",
    ),
    "JobHeldAdmin": (
        "held by the cluster's administrators",
        f"{ADMIN} why it is held, or cancel it",
    ),
    "JobArrayTaskLimit": (
        "waiting for other elements of its bundle to end: at most array_limit of them run at once",
        "raise array_limit (hipercow_configure) to run more at once",
    ),
    "PartitionTimeLimit": (
        "will not start: its time limit is longer than its partition allows",
        "ask for a shorter max_runtime, or a queue (partition) with a longer limit",
    ),
    "PartitionNodeLimit": (
        "will not start: the nodes it needs are outside its partition's limits, or down or drained",
        "ask for fewer resources or another queue (partition); see hipercow_cluster_info()",
    ),
    "PartitionDown": (
        "waiting: its partition is down",
        f"wait, submit to another queue (partition), or {ADMIN}",
    ),
    "PartitionInactive": (
        "waiting: its partition is inactive and starts no jobs",
        f"submit to another queue (partition), or {ADMIN}",
    ),
    "PartitionConfig": (
        "will not start: its request does not fit its partition's configuration",
        "ask for resources the partition offers, or another queue (partition)",
    ),
    "ReqNodeNotAvail": (
        "waiting: a node it needs is not available: in use, reserved, down or drained",
        f"drop requested_nodes to run anywhere, or wait; {ADMIN} if the nodes are down",
    ),
    "Reservation": ("waiting for its advance reservation to begin", WAIT),
    "ReqResv": (
        "will not start: its partition only runs jobs in a reservation",
        "name a reservation (sbatch_args=['--reservation=NAME']) or use another partition",
    ),
    "InvalidQOS": (
        "will not start: its QOS is invalid for this account",
        "choose a QOS the account may use (sbatch_args=['--qos=NAME']); "
        "sacctmgr show assoc user=$USER lists them",
    ),
    "QOSNotAllowed": (
        "will not start: its QOS is not allowed in its partition",
        "choose another QOS or partition",
    ),
    "InvalidAccount": (
        "will not start: its account is invalid",
        "set a valid account (hipercow_configure('slurm', account=...))",
    ),
    "AccountNotAllowed": (
        "will not start: its account may not use its partition",
        "use another partition, or another account",
    ),
    "NodeDown": (
        "waiting: a node it needs is down",
        f"wait, or {ADMIN}",
    ),
    "BadConstraints": (
        "will not start: its constraints can't be satisfied by any node",
        "change the constraints (--constraint in sbatch_args) or resources",
    ),
    "Licenses": ("waiting for a license to be free", WAIT),
    "Cleaning": (
        "being requeued: still cleaning up after its previous run",
        WAIT,
    ),
    "JobLaunchFailure": (
        "its job could not be launched (a file system problem, a missing program...)",
        "check the root is on a filesystem the nodes see, then retry the task",
    ),
    "launch failed requeued held": (
        "held after its launch failed and it was requeued",
        "release it (scontrol release with its job id) to try again, or cancel and retry "
        f"the task; {ADMIN} if it repeats",
    ),
    "job requeued in held state": (
        "held after being requeued",
        "release it (scontrol release with its job id), or cancel it",
    ),
    "Nodes required for job are DOWN, DRAINED or reserved for jobs in higher priority partitions": (
        "waiting: the nodes it needs are down, drained or reserved for other partitions",
        f"wait, or {ADMIN} if nodes stay down",
    ),
    "FrontEndDown": ("waiting: no front end node is available", f"wait, or {ADMIN}"),
    "Prolog": ("starting: the cluster's prolog is still running", WAIT),
    "PowerNotAvail": ("waiting for power to be available for its nodes", WAIT),
    "PowerReserved": ("waiting: power is reserved for other jobs", WAIT),
    "SystemFailure": (
        "waiting: Slurm, a file system or the network failed",
        f"{ADMIN}",
    ),
    "OutOfMemory": ("its previous run ran out of memory", "ask for more memory"),
    "WaitingForScheduling": ("waiting for the scheduler to look at it", WAIT),
    "AccountingPolicy": (
        "waiting: held by an accounting policy limit",
        f"{ADMIN} which limit applies",
    ),
    "AssociationJobLimit": (
        "waiting: its account has reached its most jobs at once",
        "it starts as the account's other jobs end",
    ),
    "AssociationResourceLimit": (
        "waiting: its account has reached a resource limit",
        "it starts as the account's other jobs end",
    ),
    "AssociationTimeLimit": (
        "will not start: its account has reached its time limit",
        ADMIN,
    ),
    "QOSJobLimit": (
        "waiting: its QOS has reached its most jobs at once",
        "it starts as other jobs of the QOS end",
    ),
    "QOSResourceLimit": (
        "waiting: its QOS has reached a resource limit",
        "it starts as other jobs of the QOS end",
    ),
    "QOSTimeLimit": ("will not start: its QOS has reached its time limit", ADMIN),
    "QOSUsageThreshold": (
        "will not start: its account has used more than its QOS allows (usage threshold)",
        f"use another QOS, or {ADMIN}",
    ),
}

# the resources that association and QOS limits count, as written in their codes
RESOURCES = {
    "cpu": "cores",
    "mem": "memory",
    "memory": "memory",
    "node": "nodes",
    "jobs": "running jobs",
    "job": "running jobs",
    "submitjobs": "submitted jobs",
    "submitjob": "submitted jobs",
    "wall": "wall time",
    "wallduration": "time limit",
    "gres": "generic resources (GPUs...)",
    "bb": "burst buffer",
    "billing": "billing units",
    "energy": "energy",
    "license": "licenses",
    "unknown": "a resource",
}
# ... and their units in a limit on resource-minutes
UNITS = {"cpu": "CPU", "mem": "memory", "memory": "memory", "node": "node", "gres": "GRES"}
_LIMIT = re.compile(
    r"^(?P<who>Assoc|QOS)?(?P<kind>Grp|Max|Min)(?P<res>[A-Za-z]+?)"
    r"(?P<minutes>Minutes|RunMinutes)?(?P<per>Per(?:Job|Node|User|Account))?"
    r"(?P<suffix>Limit|NotSatisfied)?$"
)


def pending_words(code: str) -> tuple[str, str | None]:
    """A scheduler's reason for a queued task, as (why it waits, what to do or None).

    Args:
        code: Slurm's pending reason (`Priority`, `QOSMaxJobsPerUserLimit`, `ReqNodeNotAvail,
            UnavailableNodes:node-1`...), or the local driver's (`Resources`, `Priority`,
            `BeginTime`, `Dependency`); parentheses around it are ignored.

    Returns:
        The sentence and the action; an unknown code gives (the code itself, None).
    """
    code = (code or "").strip()
    if code.startswith("(") and code.endswith(")"):
        code = code[1:-1].strip()
    if code in CODES:
        return CODES[code]
    head, _, detail = code.partition(",")
    head, detail = head.strip(), detail.strip()
    if detail and head in CODES:
        words, action = CODES[head]
        return f"{words} ({_detail(detail)})", action
    limit = _limit_words(head)
    if limit is not None:
        return limit
    return code, None


def _detail(detail: str) -> str:
    """Slurm's detail after a reason's comma ('UnavailableNodes:node-1,node-2')."""
    name, sep, nodes = detail.partition(":")
    if sep and name.strip() == "UnavailableNodes":
        return f"unavailable: {nodes.strip()}"
    return detail


def _limit_words(code: str) -> tuple[str, str | None] | None:
    """The words of an association or QOS limit code, or None if `code` is not one."""
    m = _LIMIT.match(code)
    if m is None:
        return None
    res_code = m["res"].lower()
    if res_code not in RESOURCES:
        return None
    who = {"Assoc": "its account's", "QOS": "its QOS's"}.get(m["who"], "its QOS's")
    res = RESOURCES[res_code]
    per = (m["per"] or "")[3:].lower()
    unit = UNITS.get(res_code, res)
    if m["minutes"] == "RunMinutes":
        return (
            f"waiting: {who} limit on the {unit}-minutes of running jobs is reached",
            "it starts as other jobs end; a shorter max_runtime helps",
        )
    if m["minutes"] and m["kind"] == "Grp":
        return (
            f"waiting: {who} budget of {unit}-minutes is used up",
            f"{ADMIN} for more, or use another account",
        )
    if m["kind"] == "Min":
        return (
            f"will not start: it asks for fewer {res} than {who} minimum",
            f"ask for more {res}, or use another QOS",
        )
    if m["kind"] == "Grp":
        return (
            f"waiting: {who} limit on {res} at once (shared by all its users) is reached",
            "it starts as other jobs of the account or QOS end",
        )
    if per in ("user", "account"):
        sentence = f"waiting: {who} limit on {res} per {per} is reached"
        if res_code in ("submitjobs", "submitjob"):
            return sentence, "submit fewer tasks at once (bundles of fewer rows)"
        return sentence, "it starts as your other jobs end; array_limit keeps a bundle under it"
    scope = f"per {per}" if per else "per job"
    if res_code in ("wall", "wallduration"):
        return (
            f"will not start: its time limit is longer than {who} limit {scope}",
            "ask for a shorter max_runtime, or use another QOS",
        )
    if res_code in ("jobs", "job", "submitjobs", "submitjob"):
        return (
            f"waiting: {who} limit on {res} is reached",
            "it starts as your other jobs end; array_limit keeps a bundle under it",
        )
    action = f"ask for fewer {res}, or use another QOS or account"
    amount = f"{unit}-minutes" if m["minutes"] else res
    return f"will not start: it asks for more {amount} than {who} limit {scope}", action
