"""A notebook run in a real kernel (nbclient, as Run All) and saved keeps how each task ended:
every hipercow display that finished is a static record (no widget), which nbconvert shows.
"""

from __future__ import annotations

import pathlib
import subprocess
import sys

import nbformat
import pytest
from notebooks import execute_notebook

pytestmark = pytest.mark.slow  # and `kernel`, from its folder (tests/conftest.py)

WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"
CELLS = [
    "%load_ext hipercow_magic\n%hipercow init . --driver local --cluster example",
    "%%hipercow --name good -o good\nimport time\ntime.sleep(1)\nanswer = 6 * 7\nanswer",
    "%%hipercow --name bad -o bad\ndef explode():\n    raise ValueError('this task fails')\n"
    "explode()",
    "%%hipercow --name later -o later --hold-until 60\nnever = 1",
    "later.cancel()\nassert good.wait(timeout=120) and not bad.wait(timeout=120)",
    # values arrive before this cell runs; it waits until every display has had its last word
    "import time\n"
    "from hipercow_magic.widgets.updater import get_updater\n"
    "deadline = time.monotonic() + 60\n"
    "while get_updater().watched() and time.monotonic() < deadline:\n"
    "    time.sleep(0.1)\n"
    "answer",
    "%%hipercow --name many -o many --bulk rows\nif n == 1:\n    raise KeyError(n)\nn",
    "assert not many.wait(timeout=120, fail_early=False)\n"
    "deadline = time.monotonic() + 60\n"
    "while get_updater().watched() and time.monotonic() < deadline:\n"
    "    time.sleep(0.1)",
]


def run_and_save(folder: pathlib.Path) -> pathlib.Path:
    """Run the notebook in a real kernel in `folder` and save it there."""
    notebook = nbformat.v4.new_notebook()
    notebook.cells = [nbformat.v4.new_code_cell("rows = [{'n': n} for n in range(3)]")]
    notebook.cells += [nbformat.v4.new_code_cell(source) for source in CELLS]
    execute_notebook(notebook, folder)
    path = folder / "saved.ipynb"
    nbformat.write(notebook, path)
    return path


def displays(notebook, start: str) -> list[dict]:
    """The display outputs of the cell whose source starts with `start`."""
    [cell] = [c for c in notebook.cells if c.source.startswith(start)]
    return [o for o in cell.outputs if o["output_type"] == "display_data"]


def test_a_saved_notebook_shows_how_each_task_ended(tmp_path):
    path = run_and_save(tmp_path)
    saved = nbformat.read(path, as_version=4)
    expected = {
        "%%hipercow --name good": ("success", ["result: 42", "set in the notebook: time, answer"]),
        "%%hipercow --name bad": ("failure", ["error: ValueError: this task fails"]),
        "%%hipercow --name later": ("cancelled", ["cancelled before it started"]),
    }
    for start, (status, lines) in expected.items():
        [shown] = displays(saved, start)
        data = shown["data"]
        assert WIDGET_VIEW not in data, f"{start}: still a live widget"
        assert f"hipercow-{status}" in data["text/html"]
        assert f"': {status}" in data["text/plain"].splitlines()[0]
        for line in lines:
            assert line in data["text/plain"]
    bad = displays(saved, "%%hipercow --name bad")[0]["data"]
    assert "raise ValueError('this task fails')" in bad["text/plain"]
    assert "%hipercow retry " in bad["text/plain"]
    [bulk] = displays(saved, "%%hipercow --name many")
    assert WIDGET_VIEW not in bulk["data"]
    assert "3/3 finished" in bulk["data"]["text/plain"]
    assert "2 success, 1 failure" in bulk["data"]["text/plain"]
    assert "KeyError: 1" in bulk["data"]["text/html"]

    converted = subprocess.run(
        [sys.executable, "-m", "nbconvert", "--to", "html", str(path)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert converted.returncode == 0, converted.stderr
    page = (tmp_path / "saved.html").read_text()
    for needle in (
        "hipercow-success",
        "hipercow-failure",
        "hipercow-cancelled",
        "ValueError: this task fails",
        "cancelled before it started",
        "2 success",
    ):
        assert needle in page, needle
    assert f'<script type="{WIDGET_VIEW}">' not in page  # no output is a widget
