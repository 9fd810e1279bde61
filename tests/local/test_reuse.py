"""Reusing a task whose code and inputs are unchanged (task_create_expr(..., reuse=True)),
on real task processes of the local driver; and `hipercow task why` saying what changed.
"""

from __future__ import annotations

import os
import subprocess
import sys

from processes import source_environment

import hipercow_magic as hc
from hipercow_magic.api.create import task_why
from hipercow_magic.cli.main import main

WAIT = 60


def notebook(source: str) -> dict:
    """A namespace as a notebook's, with `source` run in it (functions by value)."""
    ns = {"__name__": "__main__"}
    exec(compile(source, "/tmp/ipykernel_0/cell.py", "exec"), ns)
    return ns


def test_an_unchanged_cell_reuses_its_task_without_creating_one(root):
    ns = notebook("beta = 3\ndef helper(x):\n    return x * beta\n")
    first = hc.task_create_expr("y = helper(14)\ny", namespace=ns, reuse=True)
    assert not first.reused and not first.attached
    assert first.wait(timeout=WAIT), first.log()
    assert first.result() == 42
    # comments, spacing, other resources: the same task, nothing created or submitted
    again = hc.task_create_expr(
        "# the answer\ny = helper( 14 )\n\ny  # shown",
        namespace=ns,
        reuse=True,
        resources=hc.hipercow_resources(cores=2),
    )
    assert again.id == first.id
    assert again.reused and not again.attached
    assert again.exports() == {"y": 42}
    assert hc.task_list() == [first.id]
    assert "reused when its cell runs with the same code and inputs" in task_why(first.id)
    # without reuse, the same cell is a new task
    plain = hc.task_create_expr("y = helper(14)\ny", namespace=ns)
    assert plain.id != first.id and not plain.reused
    assert plain.wait(timeout=WAIT)


def test_a_failed_task_is_not_reused(root):
    ns = notebook("limit = 0\n")
    code = "if limit < 1:\n    raise ValueError('limit too small')\nok = True"
    failed = hc.task_create_expr(code, namespace=ns, reuse=True)
    assert not failed.wait(timeout=WAIT)
    second = hc.task_create_expr(code, namespace=ns, reuse=True)
    assert second.id != failed.id and not second.reused and not second.attached
    assert not second.wait(timeout=WAIT)
    why = task_why(second.id)
    assert f"same code and inputs as task {failed.id[:8]}" in why
    assert f"it ran again because task {failed.id[:8]} failed" in why
    ns["limit"] = 5
    fixed = hc.task_create_expr(code, namespace=ns, reuse=True)
    assert fixed.wait(timeout=WAIT)
    assert "because: the value of `limit` changed" in task_why(fixed.id)
    assert len(hc.task_list()) == 3


def test_an_identical_cell_attaches_to_the_running_task(root, tmp_path):
    flag = str(tmp_path / "go")
    ns = {"flag": flag}
    code = "import os, time\nwhile not os.path.exists(flag):\n    time.sleep(0.02)\ndone = 'yes'"
    first = hc.task_create_expr(code, namespace=ns, reuse=True)
    assert first.wait(timeout=WAIT, for_start=True)
    second = hc.task_create_expr(code, namespace=ns, reuse=True)
    assert second.id == first.id
    assert second.attached and not second.reused
    assert "running: its cell run again unchanged attaches to it" in task_why(first.id)
    with open(flag, "w"):
        pass
    assert second.wait(timeout=WAIT)
    assert first.exports()["done"] == "yes"
    assert hc.task_list() == [first.id]


def test_a_changed_module_of_the_root_runs_anew(root, capsys):
    os.makedirs("analysis")
    with open("analysis/__init__.py", "w"):
        pass
    with open("analysis/model.py", "w") as f:
        f.write("def fit(x):\n    return x + 1\n")
    code = "from analysis.model import fit\nfitted = fit(10)\ndel fit"
    first = hc.task_create_expr(code, namespace={}, reuse=True)
    assert first.wait(timeout=WAIT), first.log()
    assert hc.task_create_expr(code, namespace={}, reuse=True).reused
    with open("analysis/model.py", "w") as f:
        f.write("def fit(x):\n    return x + 2\n")
    second = hc.task_create_expr(code, namespace={}, reuse=True)
    assert second.id != first.id and not second.reused
    assert second.wait(timeout=WAIT), second.log()
    assert second.exports()["fitted"] == 12  # the node ran the module as it is now
    capsys.readouterr()
    assert main(["task", "why", second.id[:8]]) == 0
    out = capsys.readouterr().out
    assert (
        f"Task {second.id[:8]} ran rather than reuse task {first.id[:8]} (an earlier run of "
        "this cell, success), because: module analysis/model.py changed." in out
    )


def test_rerun_makes_a_new_task_that_later_runs_reuse(root):
    ns = {"n": 4}
    first = hc.task_create_expr("total = n * 2", namespace=ns, reuse=True)
    assert first.wait(timeout=WAIT)
    rerun = hc.task_create_expr("total = n * 2", namespace=ns, reuse="rerun")
    assert rerun.id != first.id and not rerun.reused
    assert "it was asked to run again" in task_why(rerun.id)
    assert rerun.wait(timeout=WAIT)
    later = hc.task_create_expr("total = n * 2", namespace=ns, reuse=True)
    assert later.id == rerun.id and later.reused
    # a purged task is not reused: its cell runs anew
    hc.hipercow_purge(task_ids=[rerun.id])
    fresh = hc.task_create_expr("total = n * 2", namespace=ns, reuse=True)
    assert fresh.id not in (first.id, rerun.id) and not fresh.reused
    assert fresh.wait(timeout=WAIT)


def test_why_of_a_task_without_earlier_runs_or_reuse(root, capsys):
    task = hc.task_create_expr("z = 1", namespace={}, reuse=True)
    assert task.wait(timeout=WAIT)
    assert f"Task {task.id[:8]}: no earlier task of this cell" in task_why(task.id)
    plain = hc.task_create_expr("z = 1", namespace={})
    assert "created without reuse" in task_why(plain.id)
    capsys.readouterr()
    assert main(["task", "why", "ffff0000"]) == 1
    assert "No task id starts with 'ffff0000'" in capsys.readouterr().err


def test_a_new_installation_of_the_environment_runs_anew(root, capsys):
    code = "import sys\ninstalled = [p for p in sys.path if 'hipercow/provision' in p]"
    first = hc.task_create_expr(code, namespace={}, reuse=True)
    assert first.wait(timeout=WAIT), first.log()
    with open("provision.sh", "w") as f:
        f.write("echo nothing to install\n")
    hc.hipercow_provision("script", script="provision.sh")
    second = hc.task_create_expr(code, namespace={}, reuse=True)
    assert second.id != first.id and not second.reused
    assert second.wait(timeout=WAIT), second.log()
    assert not first.exports()["installed"] and second.exports()["installed"]  # used it
    assert "because: the environment changed." in task_why(second.id)
    assert hc.task_create_expr(code, namespace={}, reuse=True).id == second.id


KEY_IN_A_NEW_KERNEL = """
import os, sys
import numpy
from hipercow_magic.engine.create import Plan
from hipercow_magic.engine.reuse import cell_fingerprint

ns = {"__name__": "__main__"}
cell = "rates = {'a': 0.1, 'b': 0.2}\\nclass Model:\\n    def step(self, x):\\n        return x * 2\\n"
cell += "def helper(x):\\n    return Model().step(x) + rates['a']\\n"
exec(compile(cell, f"/tmp/ipykernel_{os.getpid()}/{sys.argv[1]}.py", "exec"), ns)
ns["grid"] = numpy.linspace(0, 1, 1000)
ns["labels"] = {"alpha", "beta", "gamma", "delta", "epsilon"}
plan = Plan(None, False, None, None, None, "default")
print(cell_fingerprint(plan, "out = [helper(g) for g in grid], sorted(labels)", ns, None).key())
"""


def test_the_key_is_the_same_in_another_kernel_session(root):
    # other string hashing (so a set's own order), other file names of the cells
    keys = set()
    for seed in ("1", "2"):
        env = {**source_environment(), "PYTHONHASHSEED": seed}
        proc = subprocess.run(
            [sys.executable, "-c", KEY_IN_A_NEW_KERNEL, f"cell{seed}"],
            capture_output=True,
            text=True,
            env=env,
            check=True,
        )
        keys.add(proc.stdout.strip())
    assert len(keys) == 1 and len(keys.pop()) == 64
