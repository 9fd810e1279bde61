"""The server's bundle endpoints, cancelling several tasks at once, and the fields of each
task row (node, job id, why it waits, error line, bundle row), on a real `jupyter server`
with real tasks on the local driver.
"""

from __future__ import annotations

import contextlib
import json

import pytest
from browser.jupyter_process import JupyterProcess
from processes import stop_local_scheduler, wait_until

from hipercow_magic import api
from hipercow_magic.core.task import ran_on

pytestmark = pytest.mark.slow


def gated(project, code: str) -> str:
    """Task code that runs `code` once the file 'go' exists in the project."""
    go = str(project / "go")
    return f"import os, time\nwhile not os.path.exists({go!r}):\n    time.sleep(0.05)\n{code}"


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    """A served root holding a finished sweep of 8 with 2 failures, a loose task, and a
    bundle of gated tasks still queued or running.
    """
    top = tmp_path_factory.mktemp("bundles")
    project = top / "served" / "project"
    project.mkdir(parents=True)
    with contextlib.redirect_stdout(None):
        root = api.hipercow_init(str(project), driver="local", idle_timeout=60)
    with pytest.MonkeyPatch.context() as patch, contextlib.redirect_stdout(None):
        patch.chdir(project)
        sweep = api.task_create_bulk_call(
            lambda k: 12 // (k % 4), list(range(8)), bundle_name="sweep", root=root
        )
        sweep.wait(timeout=120, fail_early=False)
        grid = api.task_create_bulk_expr(
            "x * y", [{"x": 1, "y": "a"}, {"x": 2, "y": "b"}], bundle_name="grid", root=root
        )
        grid.wait(timeout=120, fail_early=False)
        loose = api.task_create_expr("'alone'", namespace={}, name="alone", root=root)
        loose.wait(timeout=60)
    server = JupyterProcess(top / "served", top / "home").start()
    yield {"server": server, "project": project, "root": root, "sweep": sweep, "loose": loose}
    server.stop()
    stop_local_scheduler(root)


def test_bundles_are_listed_newest_first_with_size_and_counts(site):
    status, page = site["server"].request("GET", "/hipercow/bundles", root="project")
    assert status == 200
    assert page["total"] == 2
    assert [b["name"] for b in page["bundles"]] == ["grid", "sweep"]
    sweep = page["bundles"][1]
    assert sweep["size"] == 8
    assert sweep["counts"]["success"] == 6 and sweep["counts"]["failure"] == 2
    assert sum(sweep["counts"].values()) == 8
    _, page = site["server"].request("GET", "/hipercow/bundles", root="project", offset=1, limit=1)
    assert [b["name"] for b in page["bundles"]] == ["sweep"] and page["total"] == 2


def test_a_bundles_tasks_come_by_their_rows_with_node_and_error_lines(site):
    root = site["root"]
    status, page = site["server"].request("GET", "/hipercow/bundles/sweep", root="project")
    assert status == 200
    assert page["size"] == 8 and page["total"] == 8
    rows = page["tasks"]
    assert [r["original"] for r in rows] == site["sweep"].ids
    assert [r["row"] for r in rows] == [{"k": str(k)} for k in range(8)]
    for k, row in enumerate(rows):
        assert row["node"] == ran_on(root, row["id"]) and row["node"]
        assert row["job_id"] is None and row["pending"] is None
        if k % 4 == 0:
            assert row["status"] == "failure"
            assert row["error"] == "ZeroDivisionError: integer division or modulo by zero"
        else:
            assert row["status"] == "success" and row["error"] is None
    _, failed = site["server"].request(
        "GET", "/hipercow/bundles/sweep", root="project", status="failure"
    )
    assert [r["row"] for r in failed["tasks"]] == [{"k": "0"}, {"k": "4"}]
    assert failed["total"] == 2 and failed["counts"]["success"] == 6
    _, grid = site["server"].request("GET", "/hipercow/bundles/grid", root="project")
    assert [r["row"] for r in grid["tasks"]] == [{"x": "1", "y": "'a'"}, {"x": "2", "y": "'b'"}]
    assert [r["error"] for r in grid["tasks"]] == [None, None]


def test_unknown_or_malformed_bundles_are_refused(site):
    server = site["server"]
    status, body = server.request("GET", "/hipercow/bundles/nothing", root="project")
    assert (status, body["message"]) == (404, "No bundle 'nothing' in this root")
    status, body = server.request("GET", "/hipercow/bundles/.hidden", root="project")
    assert status == 400 and "Invalid bundle name" in body["message"]
    status, body = server.request("GET", "/hipercow/bundles/sweep", root="project", status="x")
    assert status == 400 and "Unknown status x" in body["message"]
    status, body = server.request(
        "POST", "/hipercow/bundles/nothing/retry", root="project", body=b""
    )
    assert status == 404


def test_loose_tasks_leave_out_the_tasks_of_bundles(site):
    server = site["server"]
    _, page = server.request("GET", "/hipercow/tasks", root="project", loose=1)
    assert [t["id"] for t in page["tasks"]] == [site["loose"].id]
    assert page["total"] == 1 and page["bundled"] == 10
    assert sum(page["counts"].values()) == 11  # the counts still cover every task
    _, everything = server.request("GET", "/hipercow/tasks", root="project")
    assert everything["total"] == 11


def test_retry_failed_retries_only_the_failures_and_the_rows_follow_them(site):
    server, root = site["server"], site["root"]
    status, answer = server.request(
        "POST", "/hipercow/bundles/sweep/retry", root="project", body=b""
    )
    assert status == 200 and answer == {"name": "sweep", "retried": 2}
    _, page = server.request("GET", "/hipercow/bundles/sweep", root="project")
    rows = page["tasks"]
    retried = [r for r in rows if r["id"] != r["original"]]
    assert [r["row"] for r in retried] == [{"k": "0"}, {"k": "4"}]
    assert all(r["type"] == "retry" for r in retried)
    with contextlib.redirect_stdout(None):
        assert not site["sweep"].wait(timeout=120, fail_early=False)  # they fail again
    _, page = server.request("GET", "/hipercow/bundles/sweep", root="project")
    assert page["counts"]["failure"] == 2 and sum(page["counts"].values()) == 8
    again = [r for r in page["tasks"] if r["id"] != r["original"]]
    assert [r["error"] for r in again] == [
        "ZeroDivisionError: integer division or modulo by zero"
    ] * 2
    assert all(r["node"] == ran_on(root, r["id"]) for r in again)
    # the retries belong to the bundle: not listed as loose tasks
    _, loose = server.request("GET", "/hipercow/tasks", root="project", loose=1)
    assert [t["id"] for t in loose["tasks"]] == [site["loose"].id]


def test_several_tasks_are_cancelled_at_once_and_a_bundle_whole(site, monkeypatch):
    server, project = site["server"], site["project"]
    monkeypatch.chdir(project)
    with contextlib.redirect_stdout(None):
        done = api.task_create_expr("3", namespace={}, name="done", root=project)
        done.wait(timeout=60)
        first = api.task_create_expr(gated(project, "1"), namespace={}, name="a", root=project)
        second = api.task_create_expr(gated(project, "2"), namespace={}, name="b", root=project)
        api.task_wait(first.id, timeout=60, for_start=True, root=project)
        held = api.task_create_bulk_call(
            lambda n, code=gated(project, ""): exec(code) or n,
            [1, 2, 3, 4],
            bundle_name="held",
            root=project,
        )
    body = json.dumps({"ids": [first.id, second.id, done.id]}).encode()
    status, answer = server.request("POST", "/hipercow/cancel", root="project", body=body)
    assert status == 200
    assert answer["cancelled"] == [True, True, False]
    assert answer["statuses"] == ["cancelled", "cancelled", "success"]
    status, answer = server.request(
        "POST", "/hipercow/bundles/held/cancel", root="project", body=b""
    )
    assert status == 200 and answer == {"name": "held", "cancelled": 4}
    assert api.task_status(held.ids, root=project) == ["cancelled"] * 4
    _, page = server.request("GET", "/hipercow/bundles", root="project")
    held_row = next(b for b in page["bundles"] if b["name"] == "held")
    assert held_row["counts"]["cancelled"] == 4
    for bad, message in [
        (b"", "Send the tasks to cancel as JSON"),
        (b'{"ids": []}', "Send the tasks to cancel as JSON"),
        (b'{"ids": ["xyz"]}', "Invalid task identifier"),
    ]:
        status, answer = server.request("POST", "/hipercow/cancel", root="project", body=bad)
        assert status == 400 and message in answer["message"], bad
    missing = json.dumps({"ids": ["0" * 32]}).encode()
    status, answer = server.request("POST", "/hipercow/cancel", root="project", body=missing)
    assert status == 404 and "0" * 32 in answer["message"]
    status, _ = server.request("POST", "/hipercow/cancel", token=False, root="project", body=body)
    assert status == 403


def test_a_task_waiting_for_another_says_so_in_its_pending_words(site, monkeypatch):
    project = site["project"]
    monkeypatch.chdir(project)
    with contextlib.redirect_stdout(None):
        parent = api.task_create_expr(gated(project, "1"), namespace={}, root=project)
        child = api.task_create_expr("2", namespace={}, depends_on=[parent], root=project)
        api.task_wait(parent.id, timeout=60, for_start=True, root=project)
        (row,) = api.task_summaries([child.id], root=project)
        assert row["status"] == "submitted"
        assert row["pending"] == f"waiting for task {parent.id[:8]} (running)"
        assert row["waiting"] == row["pending"] and row["node"] is None
        (running,) = api.task_summaries([parent.id], root=project)
        assert running["node"] == ran_on(site["root"], parent.id) and running["pending"] is None
        (project / "go").touch()
        assert child.wait(timeout=60)
    wait_until(lambda: api.task_summaries([child.id], root=project)[0]["node"], timeout=30)
    (row,) = api.task_summaries([child.id], root=project)
    assert row["pending"] is None and row["error"] is None and row["row"] is None


def test_a_task_waiting_for_cores_says_why_in_the_schedulers_words(site, monkeypatch):
    project, server = site["project"], site["server"]
    monkeypatch.chdir(project)
    (project / "go").unlink(missing_ok=True)
    cores = api.hipercow_cluster_info(root=project).max_cores
    whole = api.hipercow_resources(cores=cores)
    with contextlib.redirect_stdout(None):
        first = api.task_create_expr(gated(project, "1"), namespace={}, resources=whole)
        api.task_wait(first.id, timeout=60, for_start=True, root=project)
        second = api.task_create_expr("2", namespace={}, resources=whole, name="second")
    expected = f"waiting for {cores} free core{'s' if cores > 1 else ''}: {cores} of {cores} in use"
    wait_until(
        lambda: api.task_summaries([second.id], root=project)[0]["pending"] == expected,
        timeout=30,
    )
    _, page = server.request("GET", "/hipercow/tasks", root="project", loose=1)
    row = next(t for t in page["tasks"] if t["id"] == second.id)
    assert row["status"] == "submitted" and row["pending"] == expected
    assert row["node"] is None and row["job_id"] is None and row["error"] is None
    (project / "go").touch()
    assert second.wait(timeout=60)
    (row,) = api.task_summaries([second.id], root=project)
    assert row["pending"] is None and row["node"] == ran_on(site["root"], second.id)
