"""A `%%hipercow` cell's live widget, rendered and updated in a real JupyterLab and Chromium."""

from __future__ import annotations

import re

from notebook_ui import open_notebook, run_cell, screenshots, show_panel, write_notebook

from hipercow_magic.core.root import find_root

LOAD = "%load_ext hipercow_magic"
CELL = """\
%%hipercow
import time
print("widget line", flush=True)
time.sleep(12)
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
    screenshots(page, "widget-running")

    # While the driver's configuration can't be read, the widget says so, and keeps asking.
    config = find_root(str(lab.project)).config_path("local")
    with open(config) as f:
        good = f.read()
    with open(config, "w") as f:
        f.write("{ not json")
    try:
        problem = widget.get_by_text(re.compile(r"can't get task statuses \(JSONDecodeError: "))
        problem.wait_for(timeout=10_000)
        assert "showing the last known state, asking again" in problem.inner_text()
        assert badge_text(page) == "running"
        show_panel(page)
        screenshots(page, "widget-status-query-failed")
    finally:
        with open(config, "w") as f:
            f.write(good)
    problem.wait_for(state="detached", timeout=10_000)
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
    screenshots(page, "widget-success")

    # The cell's variable reaches the notebook once the task is done.
    assert "answer is 42" in run_cell(page, 2)
