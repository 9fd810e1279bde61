"""A `%%hipercow` cell's live widget, rendered and updated in a real JupyterLab and Chromium."""

from __future__ import annotations

import re

from notebook_ui import open_notebook, run_cell, screenshot, show_panel, write_notebook

LOAD = "%load_ext hipercow_magic"
CELL = """\
%%hipercow
import time
print("widget line", flush=True)
time.sleep(5)
answer = 6 * 7
answer
"""
CHECK = "print('answer is', answer)"


def badge_text(page) -> str:
    return page.locator(".hipercow-task .hipercow-badge").first.inner_text()


def test_a_cell_widget_goes_from_running_to_success_and_sets_the_result(lab, page):
    write_notebook(lab.project / "widget.ipynb", [LOAD, CELL, CHECK])
    open_notebook(page, lab, "project/widget.ipynb")
    run_cell(page, 0)
    run_cell(page, 1)

    widget = page.locator(".hipercow-task").first
    widget.wait_for(timeout=30_000)
    page.wait_for_function(
        """() => { const b = document.querySelector('.hipercow-task .hipercow-badge');
                   return b && ['submitted', 'running'].includes(b.textContent); }"""
    )
    page.wait_for_function(
        "() => document.querySelector('.hipercow-task .hipercow-badge').textContent === 'running'",
        timeout=30_000,
    )
    screenshot(page, "widget-running")
    page.wait_for_function(
        "() => document.querySelector('.hipercow-task .hipercow-badge').textContent === 'success'",
        timeout=60_000,
    )
    text = widget.inner_text()
    assert re.search(r"waited [0-9.]+m?s", text), text
    assert re.search(r"ran for [0-9.]+s", text), text
    assert "42" in text

    # The same task is in the side panel, with the same outcome.
    show_panel(page)
    page.wait_for_function(
        """() => [...document.querySelectorAll('.hc-task .hc-badge')]
                   .some(b => b.textContent === 'success')"""
    )
    screenshot(page, "widget-success")

    # The cell's variable reaches the notebook once the task is done.
    assert "answer is 42" in run_cell(page, 2)
