"""Running a notebook in a real kernel, as JupyterLab's Run All does (nbclient)."""

from __future__ import annotations

import pathlib

from nbclient import NotebookClient
from processes import source_environment, stop_local_scheduler

import hipercow_magic as hc


def execute_notebook(notebook, folder: pathlib.Path) -> None:
    """Run `notebook` in a real kernel in `folder` (its root), as Run All does."""
    client = NotebookClient(
        notebook, timeout=300, kernel_name="python3", resources={"metadata": {"path": str(folder)}}
    )
    try:
        # the kernel imports the hipercow_magic under test; an error in a cell not tagged
        # raises-exception raises CellExecutionError
        client.execute(env=source_environment())
    finally:
        if (folder / "hipercow").exists():
            stop_local_scheduler(hc.hipercow_root(str(folder)))
