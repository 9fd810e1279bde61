"""A failed task's traceback, as its node wrote it: the user's frames with their source lines
(the task's cell, functions defined in a notebook, pool workers), numbered as the notebook
numbers them, with none of hipercow-magic's own frames, stored as plain text.
"""

import linecache
import re

import pytest

import hipercow_magic as hc
from hipercow_magic import HipercowError

WAIT = 120
ANSI = re.compile(r"\x1b\[")
NOTEBOOK_CELL = "/tmp/ipykernel_4242/1.py"
NOTEBOOK_SOURCE = (
    "import math\n"
    "\n"
    "def simulate(x):\n"
    "    if x == 3:\n"
    "        raise ValueError(f'no convergence for x={x}')\n"
    "    return math.sqrt(x)\n"
)


def notebook_namespace() -> dict:
    """What a notebook holds after running a cell defining `simulate`: the function, compiled
    under the cell's filename, whose source is registered in linecache as IPython does.
    """
    linecache.cache[NOTEBOOK_CELL] = (
        len(NOTEBOOK_SOURCE),
        None,
        NOTEBOOK_SOURCE.splitlines(True),
        NOTEBOOK_CELL,
    )
    namespace = {"__name__": "__main__"}
    exec(compile(NOTEBOOK_SOURCE, NOTEBOOK_CELL, "exec"), namespace)
    return namespace


def on_two_workers(code: str, namespace: dict):
    """A task running `code` with a pool of 2 workers (`parallel` on 2 cores)."""
    return hc.task_create_expr(
        code,
        namespace=namespace,
        resources=hc.hipercow_resources(cores=2),
        parallel=hc.hipercow_parallel("parallel"),
    )


def failed(task) -> str:
    """The traceback the node stored for a failed task."""
    assert task.wait(timeout=WAIT) is False, task.log()
    error = task.result()
    return error.node_traceback


def frames(trace: str) -> list[str]:
    return re.findall(r'^\s*File "([^"]+)", line (\d+), in (\S+)$', trace, re.M)


def test_a_cells_frame_shows_its_line_and_number(root):
    code = "x = 1\ny = x + 1\nz = y / (x - 1)\nz"
    task = hc.task_create_expr(code, namespace={})
    trace = failed(task)
    cell = f"Cell for task {task.id[:8]}"
    assert frames(trace) == [(cell, "3", "<module>")]
    assert "    z = y / (x - 1)\n" in trace
    assert trace.rstrip().endswith("ZeroDivisionError: division by zero")
    assert not ANSI.search(trace)


def test_a_cells_lines_are_numbered_as_the_notebook_shows_them(root):
    # The magic says the cell's body starts on line 2, under its %%hipercow line.
    task = hc.task_create_expr("x = 1\ny = x + 1\nz = y / (x - 1)", namespace={}, first_line=2)
    assert hc.task_info(task.id).data["code_first_line"] == 2
    trace = failed(task)
    assert frames(trace) == [(f"Cell for task {task.id[:8]}", "4", "<module>")]
    assert "    z = y / (x - 1)\n" in trace


def test_first_line_must_be_a_line_number(root):
    with pytest.raises(HipercowError, match="'first_line' must be a whole number from 1, not 0"):
        hc.task_create_expr("1", namespace={}, first_line=0)
    assert hc.task_list() == []


def test_a_notebook_function_shows_its_source_in_the_task(root):
    task = hc.task_create_expr("[simulate(x) for x in range(5)]", namespace=notebook_namespace())
    trace = failed(task)
    assert frames(trace)[-1] == (NOTEBOOK_CELL, "5", "simulate")
    assert "    raise ValueError(f'no convergence for x={x}')\n" in trace
    assert "<dynamic-code>" not in trace


def test_a_pool_workers_error_shows_the_notebook_functions_source(root):
    code = (
        "import hipercow_magic\n"
        "values = list(range(6))\n"
        "results = hipercow_magic.pool().map(simulate, values)\n"
        "sum(results)"
    )
    task = on_two_workers(code, notebook_namespace())
    trace = failed(task)
    error = task.result()
    assert isinstance(error, ValueError) and str(error) == "no convergence for x=3"
    cell = f"Cell for task {task.id[:8]}"
    assert frames(trace) == [(cell, "3", "<module>"), (NOTEBOOK_CELL, "5", "simulate")]
    assert "    results = hipercow_magic.pool().map(simulate, values)\n" in trace
    assert "    raise ValueError(f'no convergence for x={x}')\n" in trace
    assert re.search(r"^  ── in worker [12] ──$", trace, re.M)
    assert trace.count("ValueError: no convergence for x=3") == 1
    assert trace.rstrip().endswith("ValueError: no convergence for x=3")
    assert "<dynamic-code>" not in trace
    assert "hipercow_magic/" not in trace and "concurrent/futures" not in trace
    assert "RemoteTraceback" not in trace and '"""' not in trace
    assert not ANSI.search(trace)
    assert trace in task.log()  # the log shows the same plain text


def test_a_function_defined_in_the_cell_shows_its_source_in_a_worker(root):
    code = (
        "import hipercow_magic\n"
        "def halve(x):\n"
        "    return 1 / (x - 2)\n"
        "list(hipercow_magic.executor().map(halve, range(4)))"
    )
    task = on_two_workers(code, {})
    trace = failed(task)
    cell = f"Cell for task {task.id[:8]}"
    assert frames(trace) == [(cell, "4", "<module>"), (cell, "3", "halve")]
    assert "    return 1 / (x - 2)\n" in trace
    assert "hipercow_magic/" not in trace and "<dynamic-code>" not in trace


def test_the_machinery_between_the_call_and_the_workers_function_is_left_out(root):
    # joblib's batches in the worker, concurrent.futures bringing the error back in the task
    code = (
        "import hipercow_magic\n"
        "from joblib import Parallel, delayed\n"
        "try:\n"
        "    Parallel(n_jobs=2)(delayed(simulate)(x) for x in range(6))\n"
        "except ValueError:\n"
        "    pass\n"
        "hipercow_magic.executor().submit(simulate, 3).result()"
    )
    task = on_two_workers(code, notebook_namespace())
    trace = failed(task)
    cell = f"Cell for task {task.id[:8]}"
    assert frames(trace) == [(cell, "7", "<module>"), (NOTEBOOK_CELL, "5", "simulate")]
    assert "site-packages" not in trace and "concurrent/futures" not in trace

    joblib = on_two_workers(
        "from joblib import Parallel, delayed\n"
        "Parallel(n_jobs=2)(delayed(simulate)(x) for x in range(6))",
        notebook_namespace(),
    )
    trace = failed(joblib)
    cell = f"Cell for task {joblib.id[:8]}"
    assert frames(trace) == [(cell, "2", "<module>"), (NOTEBOOK_CELL, "5", "simulate")]
    assert "joblib/" not in trace
