"""The demo notebooks run end to end in a real kernel (nbclient), on the local driver."""

from __future__ import annotations

import pathlib

import nbformat
import pytest
from notebooks import execute_notebook
from processes import SOURCE

pytestmark = pytest.mark.slow  # and `kernel`, from its folder (tests/conftest.py)

NOTEBOOKS = pathlib.Path(SOURCE) / "demo_notebooks"


def execute(name: str, folder: pathlib.Path):
    """Run a demo notebook in `folder` (its root); every cell's outputs, by source."""
    notebook = nbformat.read(NOTEBOOKS / name, as_version=4)
    execute_notebook(notebook, folder)
    return {
        cell.source: cell.get("outputs", []) for cell in notebook.cells if cell.cell_type == "code"
    }


def text(outputs) -> str:
    parts = []
    for o in outputs:
        if o["output_type"] == "stream":
            parts.append(o["text"])
        elif o["output_type"] in ("execute_result", "display_data"):
            parts.append(o["data"].get("text/plain", ""))
        elif o["output_type"] == "error":
            parts.append(f"{o['ename']}: {o['evalue']}")
    return "".join(parts)


def outputs_of(outputs: dict, start: str) -> str:
    [source] = [s for s in outputs if s.startswith(start)]
    return text(outputs[source])


def test_getting_started(tmp_path):
    outputs = execute("getting-started.ipynb", tmp_path)
    assert "Configured hipercow to use 'local'" in outputs_of(outputs, "%hipercow init")
    assert "Cluster 'local'" in outputs_of(outputs, "%hipercow_info")
    shown = outputs_of(outputs, "%%hipercow --name first-sample")
    assert "'first-sample': success" in shown and "captured: " in shown  # its final record
    assert "unused_big" not in shown
    assert outputs_of(outputs, "%%hipercow --wait --cores 2").rstrip().endswith(", 2)")
    bad = outputs_of(outputs, "%%hipercow --cores 99")
    assert bad.startswith("UsageError: 99 is too many cores for this cluster. — The largest node")
    assert len(bad.strip().splitlines()) == 1
    assert "mean of 10000 draws" in outputs_of(outputs, 'print(f"mean of')  # waited, no NameError
    assert "which sets `ratio`, failed: ZeroDivisionError" in outputs_of(outputs, "print(ratio)")
    assert "ZeroDivisionError" in outputs_of(outputs, "assert broken.status")
    assert "newest first" in outputs_of(outputs, "%hipercow list")
    assert "(success)" in outputs_of(outputs, "%hipercow info")


def test_parallel_tasks(tmp_path):
    outputs = execute("parallel-tasks.ipynb", tmp_path)
    assert "Cluster 'example'" in outputs_of(outputs, "%hipercow_info")
    assert outputs_of(outputs, "print(cores_seen)").rstrip().endswith("[4, 1, 1, 1, 1]")
    assert outputs_of(outputs, "print(nested)").rstrip().endswith("[4, 2, 2]")
    assert "too large for this cluster" in outputs_of(outputs, "%%hipercow --memory-per-node 256G")
    assert "normal priority started" in outputs_of(outputs, 'print(f"normal priority')
