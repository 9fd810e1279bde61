"""The JupyterLab side panel's endpoints (a real `jupyter server` with the extension) on a
root whose local driver runs on the project's cluster behind SSH: the panel lists the tasks
that run there with the states the cluster gives, tails their remote logs, describes the
remote cluster, and cancels there.
"""

from __future__ import annotations

import contextlib
import io

import pytest
from browser.jupyter_process import JupyterProcess
from far_side import WAIT, Far, fresh_remote_root, init_root_there, remove_remote
from processes import wait_until

import hipercow_magic as hc
from hipercow_magic.drivers.registry import load_driver

pytestmark = pytest.mark.slow
NODE = "panel-node"


@pytest.fixture(scope="module")
def served(cluster, tmp_path_factory):
    """A served folder holding a remote root with an ended task and a running one, and the
    server; afterwards the server stops and the remote root is removed.
    """
    top = tmp_path_factory.mktemp("remote_panel")
    project = top / "served" / "project"
    project.mkdir(parents=True)
    given, remote = fresh_remote_root()
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("HIPERCOW_KEY_FILE", str(top / "key"))
        mp.chdir(project)
        root = init_root_there(project, cluster, given, NODE, cores=2, memory=4)
        with contextlib.redirect_stdout(io.StringIO()):
            done = hc.task_create_expr("print('from afar')\n6 * 7", name="done")
            assert done.wait(timeout=WAIT)
            slow = hc.task_create_expr(
                "import time\nprint('started', flush=True)\ntime.sleep(300)", name="slow"
            )
            hc.task_wait(slow.id, timeout=WAIT, for_start=True)
        server = JupyterProcess(top / "served", top / "home").start()
        try:
            yield {"server": server, "far": Far(root, remote), "done": done, "slow": slow}
        finally:
            server.stop()
            load_driver(root, "local").connection.close()
            remove_remote(remote)


def test_the_panel_lists_the_remote_tasks_with_where_they_ran(served):
    status, page = served["server"].request("GET", "/hipercow/tasks", root="project")
    assert status == 200
    rows = {t["name"]: t for t in page["tasks"]}
    assert rows["done"]["status"] == "success" and rows["slow"]["status"] == "running"
    assert rows["done"]["node"] == NODE == rows["slow"]["node"]
    assert page["counts"]["success"] == 1 and page["counts"]["running"] == 1


def test_the_panel_tails_the_remote_log_and_describes_the_remote_cluster(served):
    server, slow = served["server"], served["slow"]
    status, page = server.request("GET", f"/hipercow/tasks/{slow.id}/log", root="project")
    assert status == 200 and "started" in page["text"], page
    status, cluster = server.request("GET", "/hipercow/cluster", root="project")
    assert status == 200
    assert [n["name"] for n in cluster["nodes"]] == [NODE]


def test_cancelling_from_the_panel_stops_the_task_there(served):
    server, slow, far = served["server"], served["slow"], served["far"]
    status, _ = server.request(
        "POST", f"/hipercow/tasks/{slow.id}/cancel", root="project", body=b""
    )
    assert status == 200
    wait_until(lambda: (far.there(slow.id) / "status-cancelled").exists(), timeout=WAIT)
    assert slow.status() == "cancelled"
