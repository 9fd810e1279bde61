"""The bulk and task-list widgets in a real JupyterLab, driven by Debian's Chromium."""

from __future__ import annotations

import contextlib
import os
import pathlib
import sys

import pytest
from processes import SOURCE

pytestmark = pytest.mark.browser

BROWSER_HELPERS = pathlib.Path(__file__).resolve().parent / "browser"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
SETTINGS = {
    "@jupyterlab/apputils-extension:notification": {"fetchNews": "false", "checkForUpdates": False}
}


@pytest.fixture(scope="module")
def helpers():
    sys.path.insert(0, str(BROWSER_HELPERS))
    import jupyter_process
    import notebook_ui

    yield jupyter_process, notebook_ui
    sys.path.remove(str(BROWSER_HELPERS))


@pytest.fixture(scope="module")
def lab(tmp_path_factory, helpers):
    from processes import stop_local_scheduler

    from hipercow_magic import api

    top = tmp_path_factory.mktemp("widgets-lab")
    project = top / "served" / "project"
    project.mkdir(parents=True)
    with contextlib.redirect_stdout(None):
        root = api.hipercow_init(str(project), driver="local", idle_timeout=60)
    server = helpers[0].JupyterProcess(
        top / "served", top / "home", app="jupyterlab", settings=SETTINGS
    )
    path = os.environ.get("PYTHONPATH")  # kernels import the hipercow_magic under test
    os.environ["PYTHONPATH"] = SOURCE + (os.pathsep + path if path else "")
    try:
        server.start()
    finally:
        if path is None:
            os.environ.pop("PYTHONPATH")
        else:
            os.environ["PYTHONPATH"] = path
    server.project = project
    yield server
    server.stop()
    stop_local_scheduler(root)


@pytest.fixture(scope="module")
def page(lab, tmp_path_factory):
    if not os.path.exists(CHROMIUM):
        pytest.skip(f"{CHROMIUM} is not installed (scripts/setup.d/30-browser.sh installs it)")
    playwright = pytest.importorskip("playwright.sync_api")
    with playwright.sync_playwright() as p:
        context = p.chromium.launch_persistent_context(
            str(tmp_path_factory.mktemp("chromium")),
            executable_path=CHROMIUM,
            headless=True,
            args=CHROMIUM_ARGS,
            viewport={"width": 1400, "height": 1000},
        )
        page = context.new_page()
        page.set_default_timeout(30_000)
        yield page
        context.close()


CELLS = [
    "%load_ext hipercow_magic\nrows = [{'n': n} for n in range(4)]",
    "%%hipercow --bulk rows\nimport os\nif n == 2 and not os.path.exists('fixed'):\n"
    "    raise ValueError('row two')\nn * 10",
    "open('fixed', 'w').close()",
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


def test_bulk_widget_and_task_list_in_jupyterlab(lab, page, helpers):
    ui = helpers[1]
    ui.write_notebook(lab.project / "bulk.ipynb", CELLS)
    ui.open_notebook(page, lab, "project/bulk.ipynb")
    ui.run_cell(page, 0)
    ui.run_cell(page, 1)

    bulk = page.locator(".hipercow-bulk").first
    bulk.wait_for()
    page.wait_for_function(
        "() => document.querySelector('.hipercow-bulk').innerText.includes('4/4 finished')",
        timeout=60_000,
    )
    text = bulk.inner_text()
    assert "3 success" in text and "1 failure" in text and "ValueError: row two" in text
    assert bulk.locator(".widget-hprogress").count() == 1
    ui.screenshot(page, "bulk-widget-failure")

    ui.run_cell(page, 2)
    bulk.get_by_role("button", name="Retry failed").click()
    page.wait_for_function(
        "() => document.querySelector('.hipercow-bulk').innerText.includes('4 success')",
        timeout=60_000,
    )
    assert "row two" not in bulk.inner_text()
    ui.screenshot(page, "bulk-widget-retried")

    run_without_reading(page, 3)  # its output holds a widget output area of its own
    listing = page.locator(".hipercow-task-list").first
    listing.wait_for()
    assert listing.locator("table tbody tr").count() == 5  # four rows and the retry
    listing.get_by_role("button", name="Show live").click()
    shown = listing.locator(".hipercow-task").first
    shown.wait_for()
    page.wait_for_function(
        "() => document.querySelector('.hipercow-task-list .hipercow-task .hipercow-badge')"
        ".textContent === 'success'",
        timeout=30_000,
    )
    ui.screenshot(page, "task-list-widget")
