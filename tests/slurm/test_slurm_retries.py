"""Automatic retries on the project's Slurm: a job Slurm ends at its time limit (TIMEOUT) is
retried with twice the time, and that attempt succeeds.
"""

import pytest

import hipercow_magic as hm
from hipercow_magic.api.retries import attempt_note
from hipercow_magic.core.failures import failure_class
from hipercow_magic.core.task import read_data, read_marker
from hipercow_magic.engine.retry import retry_chain

pytestmark = [pytest.mark.slurm, pytest.mark.slow, pytest.mark.usefixtures("in_root")]


def test_a_timeout_is_retried_with_twice_the_time_and_succeeds():
    # Slurm checks time limits about every 30 s: a 1-minute limit ends the job 60-90 s in.
    task = hm.task_create_expr(
        "import time\ntime.sleep(95)\n'slept'",
        namespace={},
        resources=hm.hipercow_resources(max_runtime=1),
        retry=hm.hipercow_retry_policy(on=("timeout",), max_attempts=2),
    )
    # A bundle's wait follows retry chains to the final attempt.
    assert hm.hipercow_bundle_create([task]).wait(timeout=400) is True
    chain = retry_chain(task.root, task.id)
    assert len(chain) == 2
    first, second = chain
    assert failure_class(task.root, first) == "timeout"
    reason = read_marker(task.root, first, "failure")["reason"]
    assert "time limit reached" in reason and "[TIMEOUT" in reason
    assert read_data(task.root, second)["resources"]["max_runtime"] == 2
    assert attempt_note(task.root, task) == "attempt 2 of 2: out of time at 1m, now 2m"
    assert hm.task_result(task) == "slept"
