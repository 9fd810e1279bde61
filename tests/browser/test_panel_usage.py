"""What tasks use, in the side panel of a real JupyterLab and Chromium: a running task's live
line, an ended task's efficiency line, and the attempt of a task its policy retried.
"""

from __future__ import annotations

import contextlib
import os
import re
from unittest import mock

import pytest
from conftest import LAB_SETTINGS, source_on_pythonpath
from jupyter_process import JupyterProcess
from local.test_server_usage import WAIT, usage_tasks
from notebook_ui import open_lab, screenshots, show_panel
from processes import SOURCE, stop_local_scheduler


@pytest.fixture(scope="module")
def usage_lab(tmp_path_factory):
    """JupyterLab serving a root `usage` with an ended task, one retried by its policy, and
    one running; it shows this checkout's built panel (JUPYTER_PATH comes before the
    installed one).
    """
    from hipercow_magic import api

    top = tmp_path_factory.mktemp("usage-lab")
    folder = top / "served" / "usage"
    folder.mkdir(parents=True)
    with contextlib.redirect_stdout(None):
        root = api.hipercow_init(str(folder), driver="local", idle_timeout=120)
    extensions = top / "jupyter-path" / "labextensions"
    extensions.mkdir(parents=True)
    os.symlink(
        os.path.join(SOURCE, "hipercow_magic", "labextension"), extensions / "hipercow-magic"
    )
    server = JupyterProcess(top / "served", top / "home", app="jupyterlab", settings=LAB_SETTINGS)
    try:
        tasks = usage_tasks(folder)
        with (
            source_on_pythonpath(),
            mock.patch.dict(os.environ, JUPYTER_PATH=str(extensions.parent)),
        ):
            server.start()
        yield {"server": server, **tasks}
    finally:
        (folder / "go").touch()
        server.stop()
        stop_local_scheduler(root)


def row(page, task_id):
    return page.locator(f'.hc-task[data-id="{task_id}"]')


def test_the_panel_shows_live_usage_efficiency_and_attempts(usage_lab, browser):
    page = browser.new_page()
    page.set_default_timeout(30_000)
    open_lab(page, usage_lab["server"], "usage")
    show_panel(page)
    page.locator(".hc-cluster").get_by_text(re.compile(r"local: 1 node")).wait_for()

    live = row(page, usage_lab["running"]).locator(".hc-usage.hc-usage-live")
    live.wait_for(timeout=WAIT * 1000)
    words = live.inner_text()
    found = re.fullmatch(r"using (\d+\.\d) of 1 core, (\d+) MB of 1 GB", words)
    assert found, words
    assert 150 <= int(found.group(2)) < 1000  # its 150 MB and Python itself

    ended = row(page, usage_lab["ended"]).locator(".hc-usage")
    assert "hc-usage-live" not in ended.get_attribute("class")
    words = ended.inner_text()
    assert re.fullmatch(
        r"used \d+\.\d of 1 core on average \(\d+%\), peak \d+ MB of 1 GB \(\d+%\)", words
    ), words

    retried = row(page, usage_lab["retried"])
    assert retried.locator(".hc-attempt").inner_text() == (
        "attempt 2 of 2: after an error, same resources"
    )
    assert row(page, usage_lab["flaky"]).locator(".hc-attempt").count() == 0
    assert row(page, usage_lab["ended"]).locator(".hc-attempt").count() == 0

    for path in screenshots(page, "panel-usage"):
        assert path.stat().st_size > 0
    page.close()
