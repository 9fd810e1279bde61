"""Run All in a real kernel: a cell that reads a name a pending `%%hipercow` cell will set
waits for that task, then runs with its values."""

from __future__ import annotations

import json
import re
import threading
import time

import nbformat
import pytest
from nbclient.exceptions import CellExecutionError
from notebooks import execute_notebook
from processes import stop_local_scheduler
from test_demo_notebooks import text as shown_text
from test_kernel_magics import Kernel

import hipercow_magic as hc

pytestmark = pytest.mark.slow  # and `kernel`, from its folder

SETUP = "%load_ext hipercow_magic\n%hipercow init . --driver local"
WAITED = re.compile(r"task ([0-9a-f]{8}) set `(\w+)` after ")
TASK = re.compile(r"hipercow task ([0-9a-f]{8})")


def run_all(folder, *sources: str, raises: tuple[int, ...] = ()):
    """Run a notebook of these code cells top to bottom, as Run All does; its cells.
    Cells whose index is in `raises` are expected to fail (tagged raises-exception).
    """
    notebook = nbformat.v4.new_notebook()
    for index, source in enumerate((SETUP, *sources)):
        cell = nbformat.v4.new_code_cell(source)
        if index - 1 in raises:
            cell.metadata["tags"] = ["raises-exception"]
        notebook.cells.append(cell)
    execute_notebook(notebook, folder)
    return notebook.cells[1:]


def text(cell) -> str:
    """Everything a cell printed or displayed, as text."""
    return shown_text(cell.outputs)


def errors(cell) -> list:
    return [o for o in cell.outputs if o["output_type"] == "error"]


def test_a_chain_of_cells_runs_top_to_bottom(tmp_path):
    cells = run_all(
        tmp_path,
        "%%hipercow\nimport time\ntime.sleep(2)\na = 21",
        "print('a * 2 =', a * 2)",
        "%%hipercow\nimport time\ntime.sleep(2)\nb = a + 1",
        "print('b =', b)",
        "a = 0\nprint('assigned before reading:', a)",
    )
    assert not any(errors(cell) for cell in cells)
    assert "a * 2 = 42" in text(cells[1])
    waited = WAITED.search(text(cells[1]))
    assert waited and waited.group(2) == "a"  # the waiting line ends saying what arrived
    # `a` is still what the first task set: the third cell imports it from there
    first, third = (
        hc.resolve_task_id(TASK.search(text(c)).group(1), root=str(tmp_path))
        for c in (cells[0], cells[2])
    )
    assert hc.task_info(third, root=str(tmp_path)).data["imports"] == {"a": first}
    assert "captured:" not in text(cells[2])
    assert "b = 22" in text(cells[3])
    assert WAITED.search(text(cells[3])).group(2) == "b"
    assert "assigned before reading: 0" in text(cells[4])
    assert "waiting for task" not in text(cells[4]) and not WAITED.search(text(cells[4]))


def test_a_failed_upstream_task_stops_the_reading_cell_with_one_line(tmp_path):
    cells = run_all(
        tmp_path,
        "%%hipercow\nimport time\ntime.sleep(2)\nratio = 1 / 0",
        "print(ratio)",
        "print('later cells still run')",
        raises=(1,),
    )
    [error] = errors(cells[1])
    task = re.search(r"hipercow task ([0-9a-f]{8})", text(cells[0])).group(1)
    assert error["evalue"] == (
        f"task {task}, which sets `ratio`, failed: ZeroDivisionError: division by zero; "
        f"nothing was set. See its display above, or %hipercow retry {task}"
    )
    assert len(error["traceback"]) == 1 and "HipercowError" in error["traceback"][0]
    assert f"task {task}, which sets `ratio`, failed; nothing was set" in text(cells[1])
    assert "later cells still run" in text(cells[2])


def test_run_all_stops_at_a_failed_upstream_task(tmp_path):
    with pytest.raises(CellExecutionError) as raised:
        run_all(tmp_path, "%%hipercow\nimport time\ntime.sleep(1)\nq = 1 / 0", "q + 1")
    assert "which sets `q`, failed: ZeroDivisionError" in str(raised.value)


@pytest.fixture
def kernel(tmp_path):
    k = Kernel(tmp_path)
    assert k.run(SETUP)["status"] == "ok"
    yield k
    k.shutdown()
    stop_local_scheduler(hc.hipercow_root(str(tmp_path)))


def test_interrupting_a_wait_stops_the_cell_not_the_task(kernel):
    kernel.run("%%hipercow -o slow\nimport time\ntime.sleep(4)\nlate = 'arrived'")
    task = json.loads(kernel.evaluate("slow.id").replace("'", '"'))
    waiting = threading.Event()

    def interrupt_once_waiting(message):
        data = message["content"].get("data", {})
        if "waiting for task" in data.get("text/plain", "") and not waiting.is_set():
            waiting.set()
            kernel.km.interrupt_kernel()

    reply = kernel.kc.execute_interactive(
        "print('never printed', late)", timeout=60, output_hook=interrupt_once_waiting
    )
    assert waiting.is_set()
    content = reply["content"]
    assert content["status"] == "error" and content["ename"] == "WaitInterrupted"
    assert content["evalue"] == (
        f"stopped waiting for task {task[:8]}; it carries on, and sets `late` between cells "
        "when it succeeds"
    )
    assert kernel.evaluate("'late' in globals()") == "False"
    assert hc.task_wait(task, timeout=60, root=kernel.cwd)  # the task went on to succeed
    deadline = time.monotonic() + 10
    while kernel.evaluate("'late' in globals()") != "True":  # set between cells, while idle
        assert time.monotonic() < deadline, "the value did not arrive after the wait stopped"
        time.sleep(0.2)
    out = kernel.run("print('now', late)")
    assert out["stdout"] == "now arrived\n" and not out["displays"]
