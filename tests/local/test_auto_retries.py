"""Automatic retries on the local driver, with real task processes: a failure its policy
covers is retried with a grown request (within the cluster's limits), up to its attempts;
waits that follow retry chains go on to the final attempt; displays' words say which
attempt a task is and why one was not retried.
"""

from __future__ import annotations

import io
import os
import subprocess
import sys

import pytest
from IPython.core.error import UsageError
from processes import ALLOCATES, SOURCE, magic_shell, run_cli, wait_until

import hipercow_magic as hc
from hipercow_magic.api.retries import attempt_note
from hipercow_magic.core.errors import HipercowError
from hipercow_magic.core.failures import failure_class
from hipercow_magic.core.resources import Resources
from hipercow_magic.core.task import read_data
from hipercow_magic.engine.retry import follow_one, retry_chain

FAILS_FIRST_TIME = """
import os
marker = f"ran-{which}"
first = not os.path.exists(marker)
open(marker, "a").write("x")
if first:
    raise ValueError(f"first attempt of {which} fails")
which
"""


def through_retries(task, timeout: float = 120) -> bool:
    """Wait for a task through its automatic retries, as bundle waits do (they follow
    retry chains); whether its final attempt succeeded.
    """
    return hc.hipercow_bundle_create([task], root=task.root).wait(timeout=timeout)


def chain_of(task) -> list[str]:
    return retry_chain(task.root, task.id) or [task.id]


def test_a_python_error_is_not_retried_unless_the_policy_names_it(root):
    task = hc.task_create_expr("raise ValueError('boom')", retry=hc.hipercow_retry_policy())
    assert through_retries(task) is False
    assert chain_of(task) == [task.id]
    assert attempt_note(root, task) == (
        "not retried: its policy does not retry after an error (only after running out "
        "of memory, running out of time, a node failure)"
    )
    plain = hc.task_create_expr("raise ValueError('boom')")
    assert through_retries(plain) is False
    assert attempt_note(root, plain) is None  # no policy, nothing to say
    assert chain_of(plain) == [plain.id]


def test_a_wait_and_a_log_watch_go_on_through_automatic_retries(root):
    which = "watched"
    policy = hc.hipercow_retry_policy(on=("error",), max_attempts=2)
    task = hc.task_create_expr(FAILS_FIRST_TIME, retry=policy)
    assert task.wait(timeout=120) is True  # the first attempt failed; its retry succeeded
    assert task.result() == which
    assert hc.task_status(task, follow=False) == "failure"
    assert len(chain_of(task)) == 2

    watched = hc.task_create_expr(FAILS_FIRST_TIME.replace("{which}", "{which}-log"), retry=policy)
    out = io.StringIO()
    assert hc.task_log_watch(watched, out=out, timeout=120) is True
    text = out.getvalue()
    retry = chain_of(watched)[-1]
    assert "first attempt of watched-log fails" in text
    assert f"── retried as task {retry[:8]} ──" in text
    assert text.index("retried as task") < text.rindex("status: success")
    assert hc.task_wait(watched, follow=False, timeout=10) is False  # the first attempt alone


def test_a_python_error_is_retried_when_asked_and_the_retry_succeeds(root):
    which = "one"
    policy = hc.hipercow_retry_policy(on=("error",), max_attempts=3)
    task = hc.task_create_expr(FAILS_FIRST_TIME, retry=policy)
    assert through_retries(task) is True
    chain = chain_of(task)
    assert len(chain) == 2
    assert hc.task_status(task) == "success"
    assert hc.task_status(task, follow=False) == "failure"
    assert hc.task_result(task) == which
    assert attempt_note(root, task) == "attempt 2 of 3: after an error, same resources"
    assert attempt_note(root, task, follow=False) is None  # the first attempt
    retry = read_data(root, chain[1])
    assert retry["retry_attempt"]["class"] == "error"
    assert retry["retry_policy"] == policy.to_dict()  # a retry keeps the policy


def test_attempts_stop_at_max_attempts_saying_so(root):
    policy = hc.hipercow_retry_policy(on=("error",), max_attempts=3)
    task = hc.task_create_expr("raise ValueError('always')", retry=policy)
    assert through_retries(task) is False
    wait_until(lambda: attempt_note(root, task) and "not retried" in attempt_note(root, task))
    assert len(chain_of(task)) == 3
    assert attempt_note(root, task) == (
        "attempt 3 of 3: after an error, same resources; not retried: that was the last "
        "of 3 attempts"
    )
    for task_id in chain_of(task):
        assert hc.task_status(task_id, follow=False) == "failure"


def test_one_retry_however_many_look_at_once(root):
    policy = hc.hipercow_retry_policy(on=("error",), max_attempts=2)
    task = hc.task_create_expr("raise ValueError('always')", retry=policy)
    wait_until(lambda: hc.task_status(task, follow=False) == "failure", timeout=60)
    looks = [
        subprocess.Popen(
            [sys.executable, "-m", "hipercow_magic.cli", "task", "status", task.id],
            cwd=root.path,
            env={**os.environ, "PYTHONPATH": SOURCE},
            stdout=subprocess.PIPE,
            text=True,
        )
        for _ in range(4)
    ]
    for look in looks:
        look.communicate(timeout=120)
        assert look.returncode == 0
    hc.task_status(task)
    assert len(chain_of(task)) == 2


def test_a_bulk_retries_only_its_failed_elements(root):
    policy = hc.hipercow_retry_policy(on=("error",), max_attempts=2)
    code = "if which in ('b', 'd'):\n" + "\n".join(
        "    " + line for line in FAILS_FIRST_TIME.strip().splitlines()
    )
    bundle = hc.task_create_bulk_expr(
        code + "\nwhich", [{"which": w} for w in "abcd"], retry=policy
    )
    assert bundle.wait(timeout=120) is True
    retried = [i for i in bundle.ids if retry_chain(root, i)]
    assert retried == [bundle.ids[1], bundle.ids[3]]
    assert bundle.result() == ["a", "b", "c", "d"]
    notes = [attempt_note(root, i) for i in bundle.ids]
    assert notes == [None, "attempt 2 of 2: after an error, same resources", None, notes[1]]


def test_the_default_policy_comes_from_options_and_retry_false_turns_it_off(root):
    hc.options.retry = hc.hipercow_retry_policy(on=("error",), max_attempts=2)
    try:
        which = "default"
        task = hc.task_create_expr(FAILS_FIRST_TIME)
        off = hc.task_create_expr("raise ValueError('no retries')", retry=False)
    finally:
        hc.options.retry = None
    assert through_retries(task) is True
    assert len(chain_of(task)) == 2 and hc.task_result(task) == which
    assert through_retries(off) is False
    assert chain_of(off) == [off.id]
    assert "retry_policy" not in read_data(root, off.id)


def test_bad_policies_are_refused_before_anything_is_created(root):
    before = hc.task_list()
    with pytest.raises(HipercowError, match="Unknown failure class 'memory'"):
        hc.task_create_expr("1", retry=hc.hipercow_retry_policy(on=("memory",)))
    with pytest.raises(HipercowError, match="must come from hipercow_retry_policy"):
        hc.task_create_expr("1", retry="timeout")
    with pytest.raises(HipercowError, match="must come from hipercow_retry_policy"):
        hc.task_create_bulk_call(abs, [1, 2], retry={"on": ["error"]})
    assert hc.task_list() == before


def test_the_command_line_takes_retry_and_its_polls_make_the_retries(root):
    def cli(*args):
        out = run_cli(*args, cwd=root.path)
        assert out.returncode == 0, out.stderr
        return out.stdout

    code = f"which = 'cli'\n{FAILS_FIRST_TIME}"
    task_id = cli("create", code, "--retry", "error", "--retry-attempts", "2").strip()
    policy = read_data(root, task_id)["retry_policy"]
    assert policy["on"] == ["error"] and policy["max_attempts"] == 2
    # no kernel, no waiting process: each `task status` is a new process polling the root
    wait_until(lambda: cli("task", "status", task_id).split() == [task_id, "success"], 120)
    assert len(retry_chain(root, task_id)) == 2
    assert "attempt 2 of 2: after an error" in attempt_note(root, task_id)


def test_a_retry_after_an_error_asks_for_the_same_and_keeps_its_cause(root):
    policy = hc.hipercow_retry_policy(on=("error",), max_attempts=2)
    task = hc.task_create_expr(
        FAILS_FIRST_TIME,
        namespace={"which": "kept"},
        retry=policy,
        resources=hc.hipercow_resources(memory_per_node="2G"),
    )
    assert through_retries(task) is True
    newest = follow_one(root, task.id)
    record = read_data(root, newest)["retry_attempt"]
    assert record["attempt"] == 2 and record["max_attempts"] == 2
    assert Resources.from_dict(record["before"]).memory_per_node == 2
    assert Resources.from_dict(record["after"]) == Resources.from_dict(record["before"])


@pytest.fixture
def small_root(root, capsys):
    """A root whose virtual cluster's only node has 1 GB of memory."""
    hc.hipercow_configure(
        "local", idle_timeout=30, nodes=[{"name": "small", "cores": 2, "memory": 1}]
    )
    capsys.readouterr()
    return root


def allocating(size: int, memory: str, memory_factor: float) -> hc.Task:
    """A task allocating `size` bytes, asking for `memory`, retried after running out."""
    return hc.task_create_expr(
        ALLOCATES,
        namespace={"size": size},
        resources=hc.hipercow_resources(memory_per_node=memory),
        retry=hc.hipercow_retry_policy(memory_factor=memory_factor, max_attempts=3),
    )


def test_out_of_memory_is_retried_with_more_memory_until_it_fits(root):
    task = allocating(300_000_000, "0.1", memory_factor=4)
    assert through_retries(task) is True
    assert hc.task_result(task) == 300_000_000
    chain = chain_of(task)
    assert len(chain) in (2, 3)  # 400 MB may be just too little beside Python itself
    assert failure_class(root, chain[0]) == "out_of_memory"
    assert "out of memory" in hc.task_info(task, follow=False).reason
    assert attempt_note(root, chain[1], follow=False) == (
        "attempt 2 of 3: out of memory at 100 MB, now 400 MB"
    )
    if len(chain) == 3:
        assert failure_class(root, chain[1]) == "out_of_memory"
        assert attempt_note(root, task) == "attempt 3 of 3: out of memory at 400 MB, now 1.6 GB"
    newest = read_data(root, chain[-1])["resources"]["memory_per_node"]
    assert newest == (0.4 if len(chain) == 2 else 1.6)
    assert hc.task_status(task) == "success"


def test_memory_grows_no_further_than_the_largest_node(example_root):
    task = allocating(300_000_000, "0.1", memory_factor=100)
    assert through_retries(task) is True
    assert attempt_note(example_root, task) == (
        "attempt 2 of 3: out of memory at 100 MB, now 4 GB"  # not 10 GB: nodes have 4
    )


def test_a_task_at_the_largest_node_is_not_retried_and_says_why(small_root):
    task = allocating(1_200_000_000, "0.5", memory_factor=4)
    assert through_retries(task) is False
    wait_until(lambda: "not retried" in (attempt_note(small_root, task) or ""))
    assert len(chain_of(task)) == 2
    assert attempt_note(small_root, task) == (
        "attempt 2 of 3: out of memory at 500 MB, now 1 GB; not retried: 1 GB is the most "
        "any node has"
    )
    assert failure_class(small_root, follow_one(small_root, task.id)) == "out_of_memory"


@pytest.mark.slow
def test_a_timeout_is_retried_with_twice_the_time_and_succeeds(root):
    task = hc.task_create_expr(
        "import time\ntime.sleep(70)\n'slept'",
        namespace={},
        resources=hc.hipercow_resources(max_runtime=1),
        retry=hc.hipercow_retry_policy(on=("timeout",)),
    )
    assert through_retries(task, timeout=280) is True
    chain = chain_of(task)
    assert len(chain) == 2
    assert failure_class(root, chain[0]) == "timeout"
    assert hc.task_info(chain[0], follow=False).reason == "exceeded max_runtime of 1 minute"
    assert attempt_note(root, task) == "attempt 2 of 3: out of time at 1m, now 2m"
    assert read_data(root, chain[1])["resources"]["max_runtime"] == 2
    assert hc.task_result(task) == "slept"


@pytest.fixture
def shell(ip, example_root, capsys):
    """The IPython shell with the extension, in a fresh root on the example cluster."""
    yield from magic_shell(ip, capsys, "text")


def test_the_magic_takes_retry_flags(shell, example_root):
    shell.user_ns["which"] = "magic"
    result = shell.run_cell(
        f"%%hipercow --retry error,timeout --retry-attempts 4 -o h\n{FAILS_FIRST_TIME}"
    )
    assert result.error_in_exec is None, result.error_in_exec
    task = shell.user_ns["h"]
    policy = read_data(example_root, task.id)["retry_policy"]
    assert policy["on"] == ["timeout", "error"] and policy["max_attempts"] == 4
    assert through_retries(task) is True
    assert attempt_note(example_root, task) == "attempt 2 of 4: after an error, same resources"
    bad = shell.run_cell("%%hipercow --retry oom\n1")
    assert isinstance(bad.error_in_exec, UsageError)
    assert "Unknown failure class 'oom'" in str(bad.error_in_exec)


def test_tasks_waiting_for_a_retried_failure_run_after_its_retry(root):
    policy = hc.hipercow_retry_policy(on=("error",), max_attempts=2)
    first = hc.task_create_expr(FAILS_FIRST_TIME, namespace={"which": "up"}, retry=policy)
    below = hc.task_create_expr("marker + '!'", namespace={}, imports={"marker": first})
    further = hc.task_create_expr("'last'", namespace={}, depends_on=[below])
    chain = hc.hipercow_bundle_create([first, below, further], root=root)
    assert chain.wait(timeout=120) is True
    assert chain.result() == ["up", "ran-up!", "last"]
    for task in (below, further):
        assert hc.task_status(task, follow=False) == "cancelled"
        assert len(chain_of(task)) == 2
        assert attempt_note(root, task) == f"run again: upstream task {first.id[:8]} was retried"


def test_tasks_below_a_failure_that_is_not_retried_stay_cancelled(root):
    first = hc.task_create_expr("raise ValueError('no policy')", namespace={})
    below = hc.task_create_expr("'never'", namespace={}, depends_on=[first])
    assert through_retries(below) is False
    assert hc.task_status(below) == "cancelled"
    assert chain_of(below) == [below.id]
    assert attempt_note(root, below) is None


def test_cells_waiting_on_a_task_go_on_through_its_attempts(shell, example_root):
    shell.user_ns["which"] = "waited"
    result = shell.run_cell(f"%%hipercow --wait --retry error -o w\n{FAILS_FIRST_TIME}")
    assert result.error_in_exec is None, result.error_in_exec
    assert result.result == "waited"  # the value of its second attempt
    assert shell.user_ns["first"] is False  # set by the attempt that succeeded
    assert len(chain_of(shell.user_ns["w"])) == 2

    shell.user_ns["which"] = "read"
    submitted = shell.run_cell(f"%%hipercow --retry error\n{FAILS_FIRST_TIME}")
    assert submitted.error_in_exec is None, submitted.error_in_exec
    reading = shell.run_cell("marker")  # waits for the task that sets it, through its retry
    assert reading.error_in_exec is None, reading.error_in_exec
    assert reading.result == "ran-read"


def test_a_root_configured_with_a_retry_policy_gives_it_to_new_tasks(example_root):
    with pytest.raises(HipercowError, match="Unknown failure class 'oom'"):
        hc.hipercow_configure("example", retry="oom")
    assert "retry_policy" not in example_root.driver_config("local")  # nothing was written
    hc.hipercow_configure("example", retry=hc.hipercow_retry_policy(on=("error",)))
    which = "configured"
    task = hc.task_create_expr(FAILS_FIRST_TIME)
    assert read_data(example_root, task.id)["retry_policy"]["on"] == ["error"]
    assert task.wait(timeout=120) is True and task.result() == which
    assert len(chain_of(task)) == 2
    plain = hc.task_create_expr("1", retry=False)  # off for one task
    assert "retry_policy" not in read_data(example_root, plain.id)
    hc.hipercow_configure("example", retry="timeout")  # --retry's words
    assert read_data(example_root, hc.task_create_expr("1").id)["retry_policy"]["on"] == ["timeout"]
