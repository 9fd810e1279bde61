"""A notebook run in JupyterLab, saved, its kernel shut down and reopened shows how each task
ended (static records, no "model not found"), in a real JupyterLab and Chromium.
"""

from __future__ import annotations

import time

import nbformat
from notebook_ui import open_notebook, run_cell, screenshots, write_notebook

WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"
CELLS = [
    "%load_ext hipercow_magic\nrows = [{'n': n} for n in range(3)]",
    "%%hipercow --name good\nimport time\ntime.sleep(2)\nanswer = 6 * 7\nanswer",
    "%%hipercow --name bad\ndef explode():\n    raise ValueError('this task fails')\nexplode()",
    "%%hipercow --name later --hold-until 60\nnever = 1",
    "%%hipercow --name many --bulk rows\nif n == 1:\n    raise KeyError(n)\nn",
]
HIPERCOW_CELLS = (1, 2, 3, 4)


def saved_outputs(path) -> list[list[dict]]:
    """The outputs of the notebook's hipercow cells as saved on disk."""
    notebook = nbformat.read(path, as_version=4)
    return [notebook.cells[i].get("outputs", []) for i in HIPERCOW_CELLS]


def wait_for(predicate, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.25)


def test_a_saved_and_reopened_notebook_shows_final_states_without_its_kernel(lab, page):
    path = lab.project / "saved.ipynb"
    write_notebook(path, CELLS)
    open_notebook(page, lab, "project/saved.ipynb")
    for index in range(len(CELLS)):
        run_cell(page, index)
    held = page.locator(".jp-Notebook .jp-Cell").nth(3).locator(".hipercow-task")
    held.get_by_text("in the queue, held until").wait_for()  # the scheduler's view arrived
    held.locator("button", has_text="Cancel").click()  # from the live widget
    records = page.locator(".jp-Notebook .hipercow-record")
    page.wait_for_function(
        "() => document.querySelectorAll('.jp-Notebook .hipercow-record').length === 4",
        timeout=90_000,
    )
    page.wait_for_function(
        "() => document.querySelector('.jp-Notebook').innerText"
        ".includes('set in the notebook: time, answer')",
        timeout=30_000,
    )
    assert page.locator(".jp-Notebook .hipercow-task .widget-button").count() == 0

    page.locator(".jp-Notebook").first.click()
    page.keyboard.press("Control+s")
    wait_for(
        lambda: all(
            outputs and all(WIDGET_VIEW not in o.get("data", {}) for o in outputs)
            for outputs in saved_outputs(path)
        )
    )

    status, sessions = lab.request("GET", "/api/sessions")
    assert status == 200
    for session in sessions:
        if session["path"].endswith("saved.ipynb"):
            assert lab.request("DELETE", f"/api/sessions/{session['id']}")[0] == 204
    page.goto("about:blank")
    open_notebook(page, lab, "project/saved.ipynb")
    records.nth(3).wait_for()
    assert records.count() == 4
    text = page.locator(".jp-Notebook").inner_text()
    for needle in (
        "success",
        "failure",
        "cancelled",
        "ValueError: this task fails",
        "cancelled before it started",
        "result: 42",
        "2 success",
        "KeyError: 1",
        "%hipercow retry ",
    ):
        assert needle in text, needle
    assert "model not found" not in text and "Error displaying widget" not in text
    badges = [b.inner_text() for b in page.locator(".hipercow-record .hipercow-badge").all()]
    assert badges == ["success", "failure", "cancelled"]
    screenshots(page, "saved-notebook")
    records.nth(3).scroll_into_view_if_needed()
    screenshots(page, "saved-notebook-end")
