"""What tasks use, in the server extension's task rows, on a real `jupyter server` with real
tasks: the live line of a running task, the efficiency line of an ended one (kept, not read
again at every poll), and the attempt of a task retried by its policy.
"""

from __future__ import annotations

import contextlib
import os
import re
from unittest import mock

import pytest
from browser.jupyter_process import JupyterProcess
from processes import source_environment, stop_local_scheduler, wait_until

from hipercow_magic import api
from hipercow_magic.core.root import find_root
from hipercow_magic.engine.retry import follow_one

pytestmark = pytest.mark.slow
WAIT = 90
# Keeps one core busy holding 150 MB until the file 'go' appears in the root (or for SECONDS).
BURN = (
    "import os, time\n"
    "block = bytearray(150_000_000)\n"
    "for i in range(0, len(block), 4096):\n"
    "    block[i] = 1\n"
    "end = time.time() + SECONDS\n"
    "while time.time() < end and not os.path.exists('go'):\n"
    "    sum(range(10_000))\n"
    "'burnt'\n"
)
# Fails the first time it runs, succeeds the second.
FLAKY = (
    "import os\n"
    "if not os.path.exists('tried'):\n"
    "    open('tried', 'w').close()\n"
    "    raise ValueError('first attempt fails')\n"
    "'second attempt'\n"
)


def usage_tasks(folder) -> dict:
    """In the root at `folder` (the working directory meanwhile): an ended burner, a task
    retried once by its policy, and a running burner (until the file 'go' appears); their
    ids by name ('retried': the flaky task's retry).
    """
    with pytest.MonkeyPatch.context() as patch, contextlib.redirect_stdout(None):
        patch.chdir(folder)
        one_gb = api.hipercow_resources(memory_per_node=1)
        ended = api.task_create_expr(BURN.replace("SECONDS", "3"), resources=one_gb, name="ended")
        assert ended.wait(timeout=WAIT)
        flaky = api.task_create_expr(
            FLAKY, name="flaky", retry=api.hipercow_retry_policy(on=("error",), max_attempts=2)
        )
        # the status lookup that sees the failure retries it
        wait_until(lambda: api.task_status(flaky.id, follow=True) == "success", WAIT)
        running = api.task_create_expr(
            BURN.replace("SECONDS", "600"), resources=one_gb, name="running"
        )
        assert running.wait(for_start=True, timeout=WAIT)
        retried = follow_one(find_root("."), flaky.id, True)
    return {"ended": ended.id, "flaky": flaky.id, "retried": retried, "running": running.id}


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    """A served root with an ended burner, a running one and a task retried once."""
    top = tmp_path_factory.mktemp("usage-server")
    project = top / "served" / "project"
    project.mkdir(parents=True)
    with contextlib.redirect_stdout(None):
        root = api.hipercow_init(str(project), driver="local", idle_timeout=60)
    try:
        tasks = usage_tasks(project)
        with mock.patch.dict(os.environ, source_environment()):  # it imports this checkout
            server = JupyterProcess(top / "served", top / "home").start()
        yield {"server": server, "project": project, **tasks}
    finally:
        (project / "go").touch()
        with contextlib.suppress(NameError):
            server.stop()
        stop_local_scheduler(root)


def rows(site) -> dict[str, dict]:
    """The panel's rows of the root by name (a retry under its name and '(retry)')."""
    status, page = site["server"].request("GET", "/hipercow/tasks", root="project")
    assert status == 200, page
    named: dict[str, dict] = {}
    for row in reversed(page["tasks"]):  # oldest first: a retry comes after its original
        name = row["name"] if row["name"] not in named else f"{row['name']} (retry)"
        named[name] = row
    return named


def test_a_running_task_has_its_live_usage_line(site):
    live = wait_until(lambda: (rows(site)["running"].get("usage") or "").startswith("using"), WAIT)
    assert live
    usage = rows(site)["running"]["usage"]
    found = re.fullmatch(r"using (\d+\.\d) of 1 core, (\d+) MB of 1 GB", usage)
    assert found, usage
    assert 0.3 <= float(found.group(1)) <= 1.5  # one core kept busy, read on a busy machine
    assert 150 <= int(found.group(2)) < 1000  # its 150 MB and Python itself
    assert rows(site)["running"]["usage_final"] is False


def test_an_ended_task_has_its_efficiency_line_kept_between_polls(site):
    row = wait_until(lambda: (r := rows(site)["ended"]).get("usage_final") and r, WAIT)
    found = re.fullmatch(
        r"used (\d+\.\d) of 1 core on average \((\d+)%\), peak (\d+) MB of 1 GB \((\d+)%\)",
        row["usage"],
    )
    assert found, row["usage"]
    assert 150 <= int(found.group(3)) < 1000
    assert int(found.group(4)) == pytest.approx(int(found.group(3)) / 10, abs=1)
    # the line is kept with the row: the figures are not read again at every poll
    root = find_root(str(site["project"]))
    os.remove(root.task_file(site["ended"], "usage.json"))
    assert rows(site)["ended"]["usage"] == row["usage"]
    assert api.task_usage(site["ended"], root=str(site["project"])) is None


def test_a_retried_task_says_which_attempt_it_is(site):
    named = rows(site)
    assert named["flaky"]["status"] == "failure"
    assert named["flaky"]["attempt"] is None  # the first attempt
    retry = named["flaky (retry)"]
    assert retry["status"] == "success"
    assert retry["attempt"] == "attempt 2 of 2: after an error, same resources"
    assert named["ended"]["attempt"] is None
