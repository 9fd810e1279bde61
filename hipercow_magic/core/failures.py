"""Why a task failed, as a class a retry policy can name: out of memory, out of time, a node
that failed, or an error (a Python exception, or a process that died another way).
"""

from __future__ import annotations

from hipercow_magic.core.task import read_marker

OUT_OF_MEMORY = "out_of_memory"
TIMEOUT = "timeout"
NODE_FAILURE = "node_failure"
ERROR = "error"
FAILURE_CLASSES = (OUT_OF_MEMORY, TIMEOUT, NODE_FAILURE, ERROR)

CLASS_WORDS = {
    OUT_OF_MEMORY: "out of memory",
    TIMEOUT: "out of time",
    NODE_FAILURE: "node failure",
    ERROR: "error",
}

SLURM_STATE_CLASSES = {
    "OUT_OF_MEMORY": OUT_OF_MEMORY,
    "TIMEOUT": TIMEOUT,
    "DEADLINE": TIMEOUT,
    "NODE_FAIL": NODE_FAILURE,
    "BOOT_FAIL": NODE_FAILURE,
}
"""The class of a Slurm job state that ends a task in failure (any other: 'error')."""


def failure_class(root, task_id: str) -> str | None:
    """The class of a failed task's failure (None unless it failed): the one recorded with
    its failure, else 'error' (a Python exception, a crash, an exit code).
    """
    claim = read_marker(root, task_id, "failure")
    if not claim:
        return None
    return claim.get("class") or ERROR
