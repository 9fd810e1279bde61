"""Reuse of unchanged `%%hipercow` cells in a real kernel (Run All): a cell run again with the
same code and inputs shows "reused task X: same code and inputs" and sets its values without
a new task; `--rerun` makes one; a changed input makes one and `%hipercow why` names it; an
identical cell run while the first still runs attaches to it (one task, two live displays).
"""

from __future__ import annotations

import inspect
import re

import pytest
from test_run_all import errors, run_all, text

from hipercow_magic.magics.magics import HipercowMagics

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        "reuse=" not in inspect.getsource(HipercowMagics.hipercow_cell),
        reason="%%hipercow does not pass reuse= to task_create_expr yet",
    ),
]

TASK = re.compile(r"task ([0-9a-f]{8})")


def test_an_unchanged_cell_reuses_its_task_and_sets_its_values(tmp_path):
    cells = run_all(
        tmp_path,
        "beta = 2\ndef helper(x):\n    return x * beta",
        "%%hipercow -o first\ny = helper(21)",
        "print('y =', y)",
        "del y",
        "%%hipercow -o second\n# the same cell, with a comment\ny = helper( 21 )",
        "print('y =', y, second.id == first.id, second.reused)",
        "%%hipercow --rerun -o third\ny = helper(21)",
        "print('y =', y, third.id != first.id, third.reused)",
        "beta = 3",
        "%%hipercow -o fourth\ny = helper(21)",
        "print('y =', y)",
        "%hipercow why fourth",
        "import hipercow_magic as hc\nprint('tasks:', len(hc.task_list()))",
    )
    assert not any(errors(cell) for cell in cells)
    first = TASK.search(text(cells[1])).group(1)
    assert "y = 42" in text(cells[2])
    assert f"reused task {first}: same code and inputs" in text(cells[4])
    assert "y = 42 True True" in text(cells[5])
    assert "reused task" not in text(cells[6])
    third = TASK.search(text(cells[6])).group(1)
    assert third != first
    assert "y = 42 True False" in text(cells[7])
    assert "y = 63" in text(cells[10])
    assert f"rather than reuse task {third}" in text(cells[11])
    assert "because: the value of `beta` changed." in text(cells[11])
    assert "tasks: 3" in text(cells[12])
    records = [o for o in cells[4].outputs if "text/html" in o.get("data", {})]
    assert f"reused task {first}: same code and inputs" in records[-1]["data"]["text/html"]


def test_an_identical_cell_attaches_to_the_running_one(tmp_path):
    wait_for_flag = (
        "import os, time\nwhile not os.path.exists(flag):\n    time.sleep(0.05)\ndone = 'yes'"
    )
    cells = run_all(
        tmp_path,
        "import pathlib\nimport hipercow_magic as hc\nflag = str(pathlib.Path('go').resolve())",
        f"%%hipercow -o waiting\n{wait_for_flag}",
        "assert waiting.wait(timeout=120, for_start=True)",
        f"%%hipercow -o attached\n{wait_for_flag}",
        "print(attached.id == waiting.id, attached.attached)\nopen(flag, 'w').close()",
        "print('done =', done)",
        "print('tasks:', len(hc.task_list()))",
    )
    assert not any(errors(cell) for cell in cells)
    task = TASK.search(text(cells[1])).group(1)
    assert f"attached to task {task}, already queued or running" in text(cells[3])
    assert "True True" in text(cells[4])
    assert "done = yes" in text(cells[5])
    assert "tasks: 1" in text(cells[6])
    for shown in (cells[1], cells[3]):  # both displays ended as the task's record
        assert f"✔ hipercow task {task}: success" in text(shown)


def test_reuse_switched_off_runs_every_cell_anew(tmp_path):
    cells = run_all(
        tmp_path,
        "import hipercow_magic\nhipercow_magic.options.reuse = False",
        "%%hipercow -o a\nx = 1",
        "print('x =', x)",
        "%%hipercow -o b\nx = 1",
        "print('x =', x, a.id != b.id, b.reused)",
        "%hipercow why b",
    )
    assert not any(errors(cell) for cell in cells)
    assert "reused task" not in text(cells[3])
    assert "x = 1 True False" in text(cells[4])
    assert "was created without reuse" in text(cells[5])
