"""JupyterLab on 127.0.0.1 with a token, driven by Debian's Chromium through playwright."""

from __future__ import annotations

import contextlib
import os

import pytest
from jupyter_process import JupyterProcess
from processes import skip_or_fail, source_environment, stop_local_scheduler

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
LAB_SETTINGS = {
    "@jupyterlab/apputils-extension:notification": {"fetchNews": "false", "checkForUpdates": False},
}


@contextlib.contextmanager
def source_on_pythonpath():
    """PYTHONPATH starts with this checkout while a server starts, so its kernels import the
    hipercow_magic under test; restored afterwards.
    """
    path = os.environ.get("PYTHONPATH")
    os.environ["PYTHONPATH"] = source_environment()["PYTHONPATH"]
    try:
        yield
    finally:
        if path is None:
            os.environ.pop("PYTHONPATH")
        else:
            os.environ["PYTHONPATH"] = path


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    """JupyterLab serving a folder that holds a hipercow root `project` (local driver)."""
    from hipercow_magic import api
    from hipercow_magic.core.root import find_root

    top = tmp_path_factory.mktemp("lab")
    served = top / "served"
    project = served / "project"
    project.mkdir(parents=True)
    with contextlib.redirect_stdout(None):
        api.hipercow_init(str(project), driver="local", idle_timeout=60)
    server = JupyterProcess(served, top / "home", app="jupyterlab", settings=LAB_SETTINGS)
    server.project = project
    with source_on_pythonpath():
        server.start()
    yield server
    server.stop()
    stop_local_scheduler(find_root(str(project)))


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    if not os.path.exists(CHROMIUM):
        skip_or_fail(f"{CHROMIUM} is not installed (scripts/setup.d/30-browser.sh installs it)")
    import playwright.sync_api as playwright

    profile = tmp_path_factory.mktemp("chromium-profile")
    with playwright.sync_playwright() as p:
        context = p.chromium.launch_persistent_context(
            str(profile),
            executable_path=CHROMIUM,
            headless=True,
            args=CHROMIUM_ARGS,
            viewport={"width": 1500, "height": 950},
        )
        yield context
        context.close()


@pytest.fixture(scope="module")
def page(browser, lab):
    page = browser.new_page()
    page.set_default_timeout(30_000)
    yield page
    page.close()
