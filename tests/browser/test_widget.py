"""A `%%hipercow` cell's live widget, rendered and updated in a real JupyterLab and Chromium,
and the record that replaces it when the task ends."""

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
FAIL = """\
%%hipercow --name fails
def explode():
    raise ValueError("this task fails")
explode()
"""


def badge_text(page) -> str:
    return page.locator(".hipercow-task .hipercow-badge").first.inner_text()


def test_a_cell_widget_goes_from_running_to_success_and_sets_the_result(lab, page):
    write_notebook(lab.project / "widget.ipynb", [LOAD, CELL, CHECK, FAIL])
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
    assert widget.get_by_role("button", name="Cancel").is_enabled()
    assert "started " in widget.inner_text() and "running for " in widget.inner_text()
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
    record = page.locator(".hipercow-record.hipercow-task").first
    record.wait_for()
    assert record.locator("button").count() == 0  # the record replaced the widget
    text = record.inner_text()
    assert re.search(r"waited [0-9.]+m?s", text), text
    assert re.search(r"ran for [0-9.]+s", text), text
    assert "result: 42" in text and "ran on " in text and "%hipercow show " in text

    # The same task is in the side panel, with the same outcome.
    show_panel(page)
    page.wait_for_function(
        """() => [...document.querySelectorAll('.hc-task .hc-badge')]
                   .some(b => b.textContent === 'success')"""
    )
    screenshots(page, "widget-success")

    # The cell's variable reaches the notebook once the task is done.
    assert "answer is 42" in run_cell(page, 2)
    page.wait_for_function(
        "() => document.querySelector('.hipercow-record').innerText"
        ".includes('set in the notebook: time, answer')",
        timeout=30_000,
    )

    # A failure's record: the error first, the traceback, and how to retry.
    run_cell(page, 3)
    failed = page.locator(".hipercow-record.hipercow-task").nth(1)
    failed.wait_for(timeout=60_000)
    text = failed.inner_text()
    assert "failure" in text and 'raise ValueError("this task fails")' in text
    assert "ValueError: this task fails" in text and "%hipercow retry " in text
    page.locator(".jp-Notebook .jp-Cell").nth(1).scroll_into_view_if_needed()
    screenshots(page, "task-widget")
