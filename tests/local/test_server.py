"""The Jupyter server extension's REST endpoints, on a real `jupyter server` with real tasks."""

from __future__ import annotations

import contextlib
import json
import os
import re
import subprocess
import sys
import threading
import time

import pytest
from browser.jupyter_process import JupyterProcess
from processes import stop_local_scheduler

from hipercow_magic import api
from hipercow_magic.core.root import find_root

pytestmark = pytest.mark.slow


@contextlib.contextmanager
def working_directory(path):
    old = os.getcwd()
    os.chdir(path)
    try:
        yield
    finally:
        os.chdir(old)


def wait_for(check, timeout=60, interval=0.2):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError("timed out waiting")


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    """A server root holding a hipercow root with three tasks, a plain folder, and escapes."""
    top = tmp_path_factory.mktemp("server")
    served = top / "served"
    project = served / "project"
    (project / "analysis").mkdir(parents=True)
    (served / "plain").mkdir()
    outside = top / "outside"
    outside.mkdir()
    with contextlib.redirect_stdout(None):
        api.hipercow_init(str(project), driver="local", idle_timeout=30)
        api.hipercow_init(str(outside), driver="local", idle_timeout=30)
    os.symlink(outside, served / "escape")
    # without an event, the server looks at a root's tasks only every 60 s: a prompt answer
    # from /changes can only come from the task's event
    (top / "home" / ".jupyter").mkdir(parents=True)
    with open(top / "home" / ".jupyter" / "jupyter_server_config.json", "w") as f:
        json.dump({"HipercowServer": {"changes_poll": 60}}, f)
    with working_directory(project), contextlib.redirect_stdout(None):
        quick = api.task_create_expr(
            "print('alpha line')\nprint('beta line')\n1 + 1", namespace={}, name="quick"
        )
        assert quick.wait(timeout=60)
        broken = api.task_create_expr("raise ValueError('boom')", namespace={}, name="broken")
        broken.wait(timeout=60)
        long = api.task_create_expr(
            "import time\nprint('started', flush=True)\ntime.sleep(300)", namespace={}, name="long"
        )
        api.task_wait(long.id, timeout=60, for_start=True)
    server = JupyterProcess(served, top / "home").start()
    yield {
        "server": server,
        "project": project,
        "quick": quick.id,
        "broken": broken.id,
        "long": long.id,
    }
    server.stop()
    for folder in (project, outside):
        stop_local_scheduler(find_root(str(folder)))


def test_every_endpoint_refuses_requests_without_the_token(site):
    server, task = site["server"], site["quick"]
    for method, endpoint in [
        ("GET", "/hipercow/roots"),
        ("GET", "/hipercow/tasks"),
        ("GET", "/hipercow/changes"),
        ("GET", f"/hipercow/tasks/{task}"),
        ("GET", f"/hipercow/tasks/{task}/log"),
        ("GET", "/hipercow/cluster"),
        ("POST", f"/hipercow/tasks/{task}/cancel"),
        ("POST", f"/hipercow/tasks/{task}/retry"),
    ]:
        status, _ = server.request(
            method, endpoint, token=False, root="project", body=b"" if method == "POST" else None
        )
        assert status == 403, (method, endpoint)
    status, body = server.request("GET", "/hipercow/tasks", token=False, root="project")
    assert "quick" not in str(body)


def test_roots_lists_the_served_roots_and_finds_the_one_holding_a_path(site):
    server = site["server"]
    status, body = server.request("GET", "/hipercow/roots")
    assert status == 200
    assert body["roots"] == ["project"]
    _, body = server.request("GET", "/hipercow/roots", path="project/analysis/notebook.ipynb")
    assert body["current"] == "project"
    _, body = server.request("GET", "/hipercow/roots", path="plain")
    assert body["current"] is None


@pytest.mark.parametrize(
    "root",
    ["../outside", "project/../../outside", "/etc", "escape", "project\\..\\..", "escape/hipercow"],
)
def test_paths_outside_the_served_folder_are_refused(site, root):
    status, body = site["server"].request("GET", "/hipercow/tasks", root=root)
    assert status == 403
    assert body["message"]


def test_a_folder_without_a_root_is_not_found_and_a_missing_root_is_a_bad_request(site):
    server = site["server"]
    status, body = server.request("GET", "/hipercow/tasks", root="plain")
    assert (status, body["message"]) == (404, "No hipercow root at 'plain'")
    status, body = server.request("GET", "/hipercow/tasks")
    assert status == 400 and "root" in body["message"]


def test_tasks_are_listed_newest_first_with_counts_times_and_resources(site):
    status, page = site["server"].request("GET", "/hipercow/tasks", root="project")
    assert status == 200
    assert [t["name"] for t in page["tasks"]] == ["long", "broken", "quick"]
    assert page["counts"]["success"] == 1
    assert page["counts"]["failure"] == 1
    assert page["counts"]["running"] == 1
    quick = page["tasks"][2]
    assert quick["id"] == site["quick"]
    assert quick["type"] == "expression"
    assert "1 core" in quick["resources"]
    assert quick["created"] <= quick["started"] <= quick["finished"]
    assert quick["waited"] == pytest.approx(quick["started"] - quick["created"])
    assert quick["ran_for"] == pytest.approx(quick["finished"] - quick["started"])
    long = page["tasks"][0]
    assert long["status"] == "running" and long["finished"] is None and long["ran_for"] > 0


def test_each_row_says_where_the_task_ran_and_its_clock_times_as_every_display_writes_them(site):
    from hipercow_magic.core.format import clock_time
    from hipercow_magic.core.task import read_marker

    root = find_root(str(site["project"]))
    _, page = site["server"].request("GET", "/hipercow/tasks", root="project")
    rows = {t["name"]: t for t in page["tasks"]}
    for name in ("quick", "broken", "long"):
        row = rows[name]
        # the node the scheduler placed it on, kept once the task has ended
        assert row["node"] == read_marker(root, row["id"], "running")["node"], name
        assert row["node"]
        expected = {k: clock_time(row[k], page["now"]) for k in ("created", "started", "finished")}
        assert row["clock"] == expected, name
    assert re.fullmatch(r"\d\d:\d\d:\d\d", rows["quick"]["clock"]["finished"])
    assert rows["long"]["clock"]["finished"] == ""  # still running


def test_tasks_filter_by_status_and_page(site):
    server = site["server"]
    _, page = server.request("GET", "/hipercow/tasks", root="project", status="success,failure")
    assert [t["name"] for t in page["tasks"]] == ["broken", "quick"]
    assert page["total"] == 2 and page["counts"]["running"] == 1
    _, page = server.request("GET", "/hipercow/tasks", root="project", offset=1, limit=1)
    assert [t["name"] for t in page["tasks"]] == ["broken"] and page["total"] == 3
    status, body = server.request("GET", "/hipercow/tasks", root="project", status="done")
    assert status == 400 and "done" in body["message"]
    status, body = server.request("GET", "/hipercow/tasks", root="project", limit="many")
    assert status == 400 and "limit" in body["message"]


def test_task_info_reports_the_task_and_rejects_bad_or_unknown_ids(site):
    server = site["server"]
    status, info = server.request("GET", f"/hipercow/tasks/{site['broken']}", root="project")
    assert status == 200
    assert info["id"] == site["broken"] and info["status"] == "failure"
    assert info["data"]["name"] == "broken"
    assert "broken" in info["text"] and "failure" in info["text"]
    status, body = server.request("GET", "/hipercow/tasks/not-an-id", root="project")
    assert status == 400 and "Invalid task identifier" in body["message"]
    status, body = server.request("GET", f"/hipercow/tasks/{'0' * 32}", root="project")
    assert status == 404
    status, _ = server.request("GET", f"/hipercow/tasks/{site['quick']}", root="escape")
    assert status == 403


def test_the_log_is_read_from_an_offset_for_tailing(site):
    server, task = site["server"], site["quick"]
    status, chunk = server.request("GET", f"/hipercow/tasks/{task}/log", root="project")
    assert status == 200
    assert "alpha line\nbeta line" in chunk["text"]
    assert chunk["status"] == "success"
    _, rest = server.request(
        "GET", f"/hipercow/tasks/{task}/log", root="project", offset=chunk["offset"]
    )
    assert rest["text"] == "" and rest["offset"] == chunk["offset"]
    _, tail = server.request(
        "GET", f"/hipercow/tasks/{task}/log", root="project", offset=chunk["offset"] - 20
    )
    assert chunk["text"].endswith(tail["text"]) and len(tail["text"]) == 20


def test_cluster_info_describes_the_configured_driver(site):
    status, info = site["server"].request("GET", "/hipercow/cluster", root="project")
    assert status == 200
    assert info["driver"] == "local"
    assert info["max_cores"] >= 1 and info["queues"]


def test_cluster_of_a_root_without_a_driver_is_null_and_a_broken_one_says_why(site):
    import shutil

    server, served = site["server"], site["project"].parent
    bare, broken = served / "bare", served / "broken"
    try:
        with contextlib.redirect_stdout(None):
            api.hipercow_init(str(bare))
            root = api.hipercow_init(str(broken), driver="local", idle_timeout=30)
        assert server.request("GET", "/hipercow/cluster", root="bare") == (200, {"driver": None})
        with open(root.config_path("local"), "w") as f:
            f.write("{ not json")
        status, body = server.request("GET", "/hipercow/cluster", root="broken")
        assert status == 500
        assert body["message"].startswith(
            "Could not describe the cluster: JSONDecodeError: Expecting property name"
        )
        status, page = server.request("GET", "/hipercow/tasks", root="broken")
        assert status == 200 and page["total"] == 0  # no task to ask the driver about
    finally:
        shutil.rmtree(bare)
        shutil.rmtree(broken)


def test_cancel_stops_a_running_task(site):
    server, task = site["server"], site["long"]
    status, body = server.request(
        "POST", f"/hipercow/tasks/{task}/cancel", root="project", body=b""
    )
    assert status == 200 and body["cancelled"] is True
    assert wait_for(lambda: api.task_status(task, root=str(site["project"])) == "cancelled")
    _, page = server.request("GET", "/hipercow/tasks", root="project", status="cancelled")
    assert [t["id"] for t in page["tasks"]] == [task]


def test_retry_runs_a_finished_task_again_as_a_new_task(site):
    server, task = site["server"], site["quick"]
    status, body = server.request("POST", f"/hipercow/tasks/{task}/retry", root="project", body=b"")
    assert status == 200
    new_id = body["retried_as"]
    assert re.fullmatch(r"[0-9a-f]{32}", new_id) and new_id != task
    assert api.task_wait(new_id, timeout=60, root=str(site["project"]))
    _, page = server.request("GET", "/hipercow/tasks", root="project")
    assert page["tasks"][0]["id"] == new_id and page["tasks"][0]["status"] == "success"


@pytest.mark.parametrize(
    "command, listed",
    [
        (
            ["server", "extension", "list"],
            r"hipercow_magic\.server\s+enabled\s*\n.*\n\s*hipercow_magic\.server\s+OK",
        ),
        (
            ["labextension", "list"],
            r"hipercow-magic v[0-9.]+ enabled\s+OK \(python, hipercow-magic\)",
        ),
    ],
)
def test_the_installed_package_enables_both_extensions(site, command, listed):
    result = subprocess.run(
        [sys.executable, "-m", "jupyter", *command],
        capture_output=True,
        text=True,
        env=site["server"].env(),
        timeout=120,
        check=False,
    )
    output = re.sub(r"\x1b\[[0-9;]*m", "", result.stdout + result.stderr)
    assert re.search(listed, output), output


def test_actions_from_a_browser_session_need_the_xsrf_token(site):
    """Logged in by cookie (as JupyterLab is), a POST without the XSRF header is refused."""
    import http.cookiejar
    import urllib.error
    import urllib.request

    server, task = site["server"], site["quick"]
    jar = http.cookiejar.CookieJar()
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
    opener.open(server.url("/lab", token=server.token), timeout=60).read()
    xsrf = next(c.value for c in jar if c.name == "_xsrf")
    url = server.url(f"/hipercow/tasks/{task}/cancel", root="project")

    def post(headers):
        request = urllib.request.Request(url, data=b"", method="POST", headers=headers)
        try:
            with opener.open(request, timeout=60) as r:
                return r.status, json.loads(r.read())
        except urllib.error.HTTPError as e:
            return e.code, None

    assert post({})[0] == 403
    status, body = post({"X-XSRFToken": xsrf})
    assert status == 200 and body == {"id": task, "cancelled": False, "status": "success"}


def test_a_root_made_after_a_look_is_found_at_the_next_look(site):
    import shutil

    server = site["server"]
    later = site["project"].parent / "later"
    (later / "sub").mkdir(parents=True)
    try:
        _, body = server.request("GET", "/hipercow/roots", path="later/sub/notebook.ipynb")
        assert body["current"] is None and "later" not in body["roots"]
        with contextlib.redirect_stdout(None):
            api.hipercow_init(str(later))
        # looked up again at once: a "no root here" answer is never kept
        status, body = server.request(
            "GET", "/hipercow/roots", path="later/sub/notebook.ipynb", search="none"
        )
        assert status == 200
        assert body == {"roots": None, "current": "later", "message": None}
        # the shared search made a moment ago may not list it yet; the current root is added
        _, body = server.request("GET", "/hipercow/roots", path="later/sub")
        assert body["current"] == "later" and "later" in body["roots"]
        # a fresh search lists it whatever folder is asked about
        _, body = server.request("GET", "/hipercow/roots", search="fresh")
        assert body["roots"] == ["later", "project"] and body["current"] is None
        status, body = server.request("GET", "/hipercow/roots", search="always")
        assert status == 400
        assert body["message"] == "Unknown search 'always'; use one of shared, fresh, none"
    finally:
        shutil.rmtree(later)
    _, body = server.request("GET", "/hipercow/roots", path="project", search="fresh")
    assert body["roots"] == ["project"] and body["current"] == "project"


def changes(server, **query) -> dict:
    """One answer of the long poll /hipercow/changes."""
    status, body = server.request("GET", "/hipercow/changes", **query)
    assert status == 200, body
    return body


def gated(code: str) -> str:
    """Task code that runs `code` once the file 'go' exists in the root."""
    return f"import os, time\nwhile not os.path.exists('go'):\n    time.sleep(0.05)\n{code}"


@pytest.fixture(scope="module")
def live(site):
    """A root served beside the project, on the local driver, removed afterwards."""
    import shutil

    folder = site["project"].parent / "live"
    folder.mkdir()
    with contextlib.redirect_stdout(None):
        root = api.hipercow_init(str(folder), driver="local", idle_timeout=30)
    yield folder
    stop_local_scheduler(root)
    shutil.rmtree(folder)


def test_changes_answer_when_a_task_ends_with_what_changed(site, live):
    server = site["server"]
    with working_directory(live), contextlib.redirect_stdout(None):
        task = api.task_create_expr(gated("'done'"), namespace={}, name="gated")
        api.task_wait(task.id, timeout=60, for_start=True)
    first = changes(server, root="live")  # no token: what the server knows now
    assert first["root"] == "live" and first["changed"] == []
    assert first["counts"]["running"] == 1
    answers = []
    waiting = threading.Thread(
        target=lambda: answers.append(
            changes(server, root="live", since=first["token"], timeout=60)
        )
    )
    waiting.start()
    (live / "go").touch()
    waiting.join(30)  # the server's own look comes only after 60 s: this is the event
    assert answers, "no answer within 30 s"
    [answer] = answers
    assert answer["changed"] == [{"id": task.id, "status": "success"}]
    assert answer["counts"]["success"] == 1 and answer["counts"]["running"] == 0
    assert answer["token"] != first["token"] and answer["problem"] is None
    _, page = server.request("GET", "/hipercow/tasks", root="live")
    assert page["counts"] == answer["counts"]
    # asked again with the new token: nothing since
    again = changes(server, root="live", since=answer["token"], timeout=0)
    assert again["changed"] == [] and again["token"] == answer["token"]


def test_changes_answer_at_their_timeout_when_nothing_changes(site, live):
    server = site["server"]
    first = changes(server, root="live")
    asked = time.monotonic()
    answer = changes(server, root="live", since=first["token"], timeout=2)
    assert time.monotonic() - asked >= 2  # held until the timeout
    assert answer["changed"] == [] and answer["token"] == first["token"]
    # a token this server can't answer for (it restarted): at once, "look at everything"
    stale = changes(server, root="live", since="0bad0bad-7", timeout=60)
    assert stale["changed"] is None and stale["token"] == first["token"]
    for timeout in ("-1", "soon", "301"):
        status, body = server.request("GET", "/hipercow/changes", root="live", timeout=timeout)
        assert status == 400 and "timeout" in body["message"]
    status, body = server.request("GET", "/hipercow/changes", root="plain")
    assert (status, body["message"]) == (404, "No hipercow root at 'plain'")


def test_clients_waiting_for_changes_do_not_hold_up_other_requests(site, live):
    server = site["server"]
    first = changes(server, root="live")
    answers = []
    waiting = [  # more than the server's worker threads
        threading.Thread(
            target=lambda: answers.append(
                changes(server, root="live", since=first["token"], timeout=60)
            )
        )
        for _ in range(6)
    ]
    for thread in waiting:
        thread.start()
    for _ in range(3):
        status, page = server.request("GET", "/hipercow/tasks", root="live")
        assert status == 200 and page["total"] == 1
        assert server.request("GET", "/hipercow/cluster", root="live")[0] == 200
        assert server.request("GET", "/api/status")[0] == 200
    assert all(thread.is_alive() for thread in waiting) and not answers
    with working_directory(live), contextlib.redirect_stdout(None):
        task = api.task_create_expr("'another'", namespace={})
    for thread in waiting:
        thread.join(30)
    assert len(answers) == 6  # every client heard of it, from one look
    for answer in answers:
        assert task.id in [c["id"] for c in answer["changed"]]
