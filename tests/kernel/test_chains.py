"""Cells that wait for cells on the cluster, in a real kernel on the local driver: a
`%%hipercow` cell reading a name a pending `%%hipercow` cell will set is submitted at once,
importing the name from that task; the chain completes with the kernel shut down;
`--after ID|VAR`; and a chain run again unchanged (by Run All, or one cell at a time first)
reuses every cell."""

from __future__ import annotations

import json
import os
import re

import pytest
from processes import stop_local_scheduler, wait_until
from test_kernel_magics import Kernel
from test_run_all import errors, run_all, text

import hipercow_magic as hc

pytestmark = pytest.mark.slow  # and `kernel`, from its folder

SETUP = "%load_ext hipercow_magic\n%hipercow init . --driver local"
GATE = "import os, time\nwhile not os.path.exists('go'):\n    time.sleep(0.05)\n"
WAITING_LINE = re.compile(r"waiting for task [0-9a-f]{8} to set")
TASK = re.compile(r"hipercow task ([0-9a-f]{8})")


@pytest.fixture
def folder(tmp_path):
    yield tmp_path
    if (tmp_path / "hipercow").exists():
        stop_local_scheduler(hc.hipercow_root(str(tmp_path)))


@pytest.fixture
def kernel(folder):
    k = Kernel(folder)
    assert k.run(SETUP)["status"] == "ok"
    yield k
    k.shutdown()


def task_id(kernel: Kernel, variable: str) -> str:
    return json.loads(kernel.evaluate(f"{variable}.id").replace("'", '"'))


def submitted_at_once(kernel: Kernel, code: str) -> dict:
    """Run a `%%hipercow` cell that must not wait in the kernel; its outputs."""
    out = kernel.run(code)
    assert out["status"] == "ok", out
    shown = json.dumps(out["displays"]) + out["stdout"]
    assert not WAITING_LINE.search(shown), shown  # no waiting line: nothing waited
    return out


def widget_updates(kernel: Kernel, *wanted: str, seconds: float = 60) -> str:
    """The widgets' updates the kernel publishes on its own, until they have said each of
    `wanted`.
    """
    seen = ""
    for _ in range(int(seconds)):
        messages = kernel.iopub(1)
        seen += json.dumps([m["content"] for m in messages if m["msg_type"] == "comm_msg"])
        if all(w in seen for w in wanted):
            return seen
    raise AssertionError(f"the widgets did not say {[w for w in wanted if w not in seen]}")


def submit_chain(kernel: Kernel, first: str = "a = 21") -> tuple[str, str, str]:
    """Cell 1 (held until the file `go` exists) sets `a`; cell 2 reads `a`, sets `b`; cell 3
    reads `b`, sets `c`. All three are submitted before cell 1's task ends; their ids.
    """
    submitted_at_once(kernel, f"%%hipercow -o t1\n{GATE}{first}")
    submitted_at_once(kernel, "%%hipercow -o t2\nb = a * 2")
    submitted_at_once(kernel, "%%hipercow -o t3\nc = b + 1\nc")
    return task_id(kernel, "t1"), task_id(kernel, "t2"), task_id(kernel, "t3")


def test_a_chain_of_cells_completes_with_the_kernel_shut_down(folder, kernel):
    t1, t2, t3 = submit_chain(kernel)
    root = str(folder)
    assert hc.task_status(t1, root=root) in ("submitted", "running")  # held by its gate
    assert hc.task_status([t2, t3], root=root) == ["submitted", "submitted"]
    second, third = (hc.task_info(t, root=root).data for t in (t2, t3))
    assert (second["imports"], second["depends_on"]) == ({"a": t1}, [t1])
    assert (third["imports"], third["depends_on"]) == ({"b": t2}, [t2])
    assert not second.get("locals") and not third.get("locals")  # nothing captured
    # the second cell's widget says what it waits for
    widget_updates(kernel, f"waiting for task {t1[:8]}")
    kernel.shutdown()

    (folder / "go").touch()
    assert hc.task_wait(t3, timeout=120, root=root)  # the chain ran with no kernel
    assert hc.task_status([t1, t2, t3], root=root) == ["success"] * 3
    assert hc.task_exports(t3, root=root) == {"c": 43}
    times = hc.task_times([t1, t2, t3], root=root)
    assert times[1]["started"] >= times[0]["finished"]
    assert times[2]["started"] >= times[1]["finished"]

    again = Kernel(folder)
    try:
        out = again.run(
            "%load_ext hipercow_magic\n%config HipercowMagics.display = 'text'\n%hipercow list"
        )
        for t in (t1, t2, t3):
            assert t[:8] in out["stdout"]
        out = again.run(f"%hipercow show {t3[:8]} --export")
        assert f"hipercow task {t3[:8]}" in out["stdout"]
        out = again.run("c")
        assert out["results"][-1]["text/plain"] == "43"
    finally:
        again.shutdown()


def test_a_failing_first_cell_cancels_the_two_after_it(folder, kernel):
    t1, t2, t3 = submit_chain(kernel, first="a = 1 / 0")
    root = str(folder)
    (folder / "go").touch()
    assert not hc.task_wait(t3, timeout=60, root=root)
    assert hc.task_status([t1, t2, t3], root=root) == ["failure", "cancelled", "cancelled"]
    failed = f"upstream task {t1[:8]} failed"
    assert hc.task_info(t2, root=root).reason == failed
    assert hc.task_info(t3, root=root).reason in (failed, f"upstream task {t2[:8]} was cancelled")
    third = hc.task_info(t3, root=root).reason
    widget_updates(kernel, failed, third)  # the displays say why they were cancelled
    out = kernel.run("print(c)")  # no NameError: the cell says what became of `c`
    assert out["status"] == "error" and out["reply"]["ename"] == "PendingTaskFailed"
    assert out["reply"]["evalue"] == (
        f"task {t3[:8]}, which sets `c`, was cancelled ({third}); nothing was set. See its "
        f"display above, or %hipercow retry {t3[:8]}"
    )


def test_after_takes_variables_and_ids(folder, kernel):
    submitted_at_once(kernel, f"%%hipercow -o first\n{GATE}first_done = 1")
    first = task_id(kernel, "first")
    submitted_at_once(kernel, "%%hipercow -o by_variable --after first\nsecond = 2")
    submitted_at_once(kernel, f"%%hipercow -o by_id --after {first[:8]}\nthird = 3")
    root = str(folder)
    ids = [task_id(kernel, "by_variable"), task_id(kernel, "by_id")]
    for t in ids:
        assert hc.task_info(t, root=root).data["depends_on"] == [first]
        assert "imports" not in hc.task_info(t, root=root).data
        held = wait_until(lambda t=t: hc.task_scheduler_info(t, root=root).get("reason"), 60)
        assert held == "Dependency"
    (folder / "go").touch()
    for t in ids:
        assert hc.task_wait(t, timeout=60, root=root)
    times = hc.task_times([first, *ids], root=root)
    assert all(t["started"] >= times[0]["finished"] for t in times[1:])


def test_after_a_variable_holding_no_task_or_no_variable_is_a_usage_error(folder, kernel):
    kernel.run("x = 5")
    before = sorted(os.listdir(folder / "hipercow" / "tasks"))
    out = kernel.run("%%hipercow --after x\ny = 1")
    assert out["status"] == "error" and out["reply"]["ename"] == "UsageError"
    assert out["reply"]["evalue"] == (
        "`x` holds an int, not a task: --after takes task ids or variables holding tasks"
    )
    out = kernel.run("%%hipercow --after fit_taks\ny = 1")  # a misspelled variable
    assert out["reply"]["evalue"] == (
        "--after fit_taks: the notebook has no variable `fit_taks`, and it is not a task id "
        "(32 hexadecimal characters, or the first 4 or more of them)"
    )
    assert sorted(os.listdir(folder / "hipercow" / "tasks")) == before


def test_a_bulk_cell_imports_a_pending_name(folder, kernel):
    submitted_at_once(kernel, f"%%hipercow -o maker\n{GATE}scale = 10")
    kernel.run("rows = [{'n': 1}, {'n': 2}]")
    submitted_at_once(kernel, "%%hipercow --bulk rows -o scaled\nn * scale")
    maker = task_id(kernel, "maker")
    ids = json.loads(kernel.evaluate("scaled.ids").replace("'", '"'))
    root = str(folder)
    for t in ids:
        assert hc.task_info(t, root=root).data["imports"] == {"scale": maker}
    (folder / "go").touch()
    assert all(hc.task_wait(t, timeout=60, root=root) for t in ids)
    assert [hc.task_result(t, root=root) for t in ids] == [10, 20]


def chain_pass(first: str = "a = [21, 1]") -> list[str]:
    """The three cells of a chain (cell 1 sets `a`, cell 2 reads it and sets `b`, cell 3
    reads `b`), then a cell printing what they set and the three tasks.
    """
    return [
        f"%%hipercow -o t1\nimport time\ntime.sleep(1)\n{first}",
        "%%hipercow -o t2\nb = a[0] * 2",
        "%%hipercow -o t3\nc = b + 1\nc",
        "print('set:', a, b, c)\nprint('tasks:', t1.id, t2.id, t3.id)",
    ]


def pass_outcome(cells, start: int) -> tuple[str, list[str]]:
    """What the chain pass starting at cell `start` set (as printed) and its three task ids."""
    printed = text(cells[start + 3])
    ids = re.search(r"tasks: (\w+) (\w+) (\w+)", printed).groups()
    return re.search(r"set: (.*)", printed).group(1), list(ids)


def test_running_all_twice_reuses_every_cell_of_a_chain(folder):
    cells = run_all(
        folder,
        *chain_pass(),  # 0-3: the first Run All
        "del a, b, c",
        *chain_pass(),  # 5-8: Run All again, nothing changed
        *chain_pass("a = [22, 1]"),  # 9-12: cell 1's code changed
        *chain_pass("a = [22, 1]")[:1],  # 13: cell 1 as before: reused ...
        "a[0] = 30",  # 14: ... and its value changed in place
        *chain_pass("a = [22, 1]")[1:],  # 15-17
        "import hipercow_magic as hc\nprint('all tasks:', len(hc.task_list()))",
    )
    assert not any(errors(cell) for cell in cells)
    root = str(folder)
    info = {}

    def data(task: str) -> dict:
        return info.setdefault(task, hc.task_info(task, root=root).data)

    values, first = pass_outcome(cells, 0)
    assert values == "[21, 1] 42 43"
    assert data(first[1])["imports"] == {"a": first[0]}
    assert data(first[2])["imports"] == {"b": first[1]}

    values, second = pass_outcome(cells, 5)
    assert values == "[21, 1] 42 43" and second == first  # no new task: every cell reused
    for cell, task in zip(cells[5:8], second):
        assert f"reused task {task[:8]}: same code and inputs" in text(cell)

    values, changed = pass_outcome(cells, 9)
    assert values == "[22, 1] 44 45"
    assert not set(changed) & set(first)  # all three ran again ...
    assert data(changed[1])["imports"] == {"a": changed[0]}  # ... from the new upstream
    assert data(changed[2])["imports"] == {"b": changed[1]}
    assert not any("reused task" in text(cell) for cell in cells[9:12])

    values, mutated = pass_outcome(cells, 14)
    assert values == "[30, 1] 60 61"  # the changed value, never the reused 44
    assert mutated[0] == changed[0] and "reused task" in text(cells[13])
    assert mutated[1] not in (first[1], changed[1]) and "reused task" not in text(cells[15])
    assert "a" not in data(mutated[1]).get("imports", {})
    assert "captured: a (" in text(cells[15])
    assert data(mutated[2])["imports"] == {"b": mutated[1]}
    assert "all tasks: 8" in text(cells[18])


def test_cells_run_one_at_a_time_are_reused_by_run_all(folder):
    one_at_a_time = [
        "%%hipercow -o t1\na = [21, 1]",
        "assert t1.wait(timeout=60)\nprint('a =', a)",
        "%%hipercow -o t2\nb = a[0] * 2",
        "assert t2.wait(timeout=60)\nprint('b =', b)",
        "%%hipercow -o t3\nc = b + 1\nc",
        "assert t3.wait(timeout=60)\nprint('c =', c)",
    ]
    again = ["%%hipercow -o t1\na = [21, 1]", *chain_pass()[1:]]
    cells = run_all(folder, *one_at_a_time, "del a, b, c", *again)
    assert not any(errors(cell) for cell in cells)
    assert "c = 43" in text(cells[5])
    first = [TASK.search(text(cells[k])).group(1) for k in (0, 2, 4)]
    values, ids = pass_outcome(cells, 7)
    assert values == "[21, 1] 42 43"
    assert [t[:8] for t in ids] == first  # nothing ran again
    for cell, task in zip(cells[7:10], first):
        assert f"reused task {task}: same code and inputs" in text(cell)
    assert hc.task_info(ids[1], root=str(folder)).data["imports"] == {"a": ids[0]}


def test_values_brought_back_after_a_restart_let_unchanged_cells_reuse(folder, kernel):
    t1, t2, t3 = submit_chain(kernel)
    (folder / "go").touch()
    assert hc.task_wait(t3, timeout=60, root=str(folder))
    kernel.shutdown()

    again = Kernel(folder)
    try:
        again.run("%load_ext hipercow_magic\n%config HipercowMagics.display = 'text'")
        again.run(f"%hipercow show {t1[:8]} --export")  # sets `a` between cells
        out = again.run("%%hipercow -o t2\nb = a * 2")
        assert f"reused task {t2[:8]}: same code and inputs" in out["stdout"]
        assert task_id(again, "t2") == t2
        again.run("del b")
        out = again.run(f"%hipercow result {t2[:8]} --export")
        assert "✔ Set b" in out["stdout"]
        out = again.run("%%hipercow -o t3\nc = b + 1\nc")
        assert f"reused task {t3[:8]}: same code and inputs" in out["stdout"]
        assert again.evaluate("(a, b, c, t3.id == " + repr(t3) + ")") == "(21, 42, 43, True)"
        assert len(hc.task_list(root=str(folder))) == 3
    finally:
        again.shutdown()
