"""The bulk and task-list widgets in a real JupyterLab, driven by Debian's Chromium."""

from __future__ import annotations

from notebook_ui import open_notebook, run_cell, screenshot, screenshots, write_notebook

CELLS = [
    "%load_ext hipercow_magic\nrows = [{'n': n} for n in range(4)]",
    "%%hipercow --bulk rows\nimport os, time\nif n == 2 and not os.path.exists('fixed'):\n"
    "    raise ValueError('row two')\n"
    "while n == 3 and not os.path.exists('release'):\n    time.sleep(0.1)\nn * 10",
    "open('fixed', 'w').close()",
    "open('release', 'w').close()",
    "%hipercow list",
]


def run_without_reading(page, index: int) -> None:
    cell = page.locator(".jp-Notebook .jp-Cell").nth(index)
    cell.locator(".jp-InputArea-editor").click()
    page.keyboard.press("Shift+Enter")
    page.wait_for_function(
        "el => /\\[\\d+\\]/.test(el.textContent)",
        arg=cell.locator(".jp-InputPrompt").element_handle(),
    )


def test_bulk_widget_and_task_list_in_jupyterlab(lab, page):
    write_notebook(lab.project / "bulk.ipynb", CELLS)
    open_notebook(page, lab, "project/bulk.ipynb")
    run_cell(page, 0)
    run_cell(page, 1)

    bulk = page.locator(".hipercow-bulk").first
    bulk.wait_for()
    page.wait_for_function(  # one still runs: the display is live
        "() => document.querySelector('.hipercow-bulk').innerText.includes('3/4 finished')",
        timeout=60_000,
    )
    text = bulk.inner_text()
    assert "2 success" in text and "1 failure" in text and "1 running" in text
    assert "ValueError: row two" in text
    assert bulk.locator(".hipercow-stacked-bar").count() == 1
    screenshots(page, "bulk-widget")

    run_cell(page, 2)
    bulk.get_by_role("button", name="Retry failed").click()
    page.wait_for_function(
        "() => document.querySelector('.hipercow-bulk').innerText.includes('3 success')",
        timeout=60_000,
    )
    assert "row two" not in bulk.inner_text()
    run_cell(page, 3)  # the last task ends: the display becomes the bundle's record
    record = page.locator(".hipercow-record.hipercow-bulk").first
    record.wait_for(timeout=60_000)
    text = record.inner_text()
    assert "4/4 finished" in text and "4 success" in text and "%hipercow show " in text
    assert record.locator("button").count() == 0 and "failure" not in text
    screenshot(page, "bulk-widget-retried")

    run_without_reading(page, 4)  # its output holds a widget output area of its own
    listing = page.locator(".hipercow-task-list").first
    listing.wait_for()
    assert listing.locator("table tbody tr").count() == 5  # four rows and the retry
    listing.locator("button", has_text="Show").click()
    shown = listing.locator(".hipercow-task").first
    shown.wait_for()
    page.wait_for_function(
        "() => document.querySelector('.hipercow-task-list .hipercow-task .hipercow-badge')"
        ".textContent === 'success'",
        timeout=30_000,
    )
    screenshot(page, "task-list-widget")
