"""Unreadable tasks never hide the others, the CLI survives a closed pipe, and the log
endpoint pages a large log: real processes (the `hipercow` command, a Jupyter server).
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor

import psutil
import pytest
from browser.jupyter_process import JupyterProcess
from processes import SOURCE, run_cli, stop_local_scheduler

from hipercow_magic import api
from hipercow_magic.core.root import find_root

pytestmark = pytest.mark.slow


def hipercow(*args, cwd, **kwargs):
    return run_cli(*args, cwd=cwd, **kwargs)


def fake_task(root, task_id: str, name: str, created: float, status: str | None = None):
    """A task folder written as the store writes one (data.json last), with no process."""
    folder = root.task_dir(task_id)
    os.makedirs(folder)
    if status is not None:
        with open(os.path.join(folder, "status-" + status), "w") as f:
            json.dump({"time": created}, f)
    with open(os.path.join(folder, "data.json"), "w") as f:
        json.dump({"type": "expression", "name": name, "created": created}, f)
    os.utime(os.path.join(folder, "data.json"), (created, created))


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    """A served folder with a root of five tasks: three sound, one whose data.json is not
    JSON, one whose data.json was deleted after it finished; and a 200 MB log.
    """
    top = tmp_path_factory.mktemp("faults")
    project = top / "served" / "project"
    project.mkdir(parents=True)
    with contextlib.redirect_stdout(None):
        api.hipercow_init(str(project), driver="local", idle_timeout=30)
    root = find_root(str(project))
    now = time.time()
    ids = {name: f"{k:x}" * 32 for k, name in enumerate(["a", "b", "c", "bad", "gone"], 10)}
    for k, (name, task_id) in enumerate(ids.items()):
        fake_task(root, task_id, name, now - 100 + k, status="success")
    with open(root.task_file(ids["bad"], "data.json"), "w") as f:
        f.write('{"type": "expression", "name": ')
    os.unlink(root.task_file(ids["gone"], "data.json"))
    with open(root.task_file(ids["a"], "log"), "wb") as f:
        line = ("x" * 99 + "\n").encode()
        block = line * 10_000  # 1 MB
        for _ in range(200):
            f.write(block)
        f.write("the last line: é\n".encode())
    server = JupyterProcess(top / "served", top / "home").start()
    yield {"server": server, "project": project, "ids": ids, "root": root}
    server.stop()
    stop_local_scheduler(root)


def test_the_cli_lists_every_task_and_says_what_is_wrong_with_unreadable_ones(site):
    out = hipercow("task", "list", "-n", "0", cwd=site["project"])
    assert out.returncode == 0, out.stderr
    assert "Traceback" not in out.stderr
    header, *rows = out.stdout.splitlines()
    assert header.split()[:2] == ["ID", "STATUS"]
    lines = {line.split()[0]: line for line in rows}
    ids = {name: task_id[:8] for name, task_id in site["ids"].items()}  # as displays show ids
    assert set(lines) == set(ids.values())
    for name in ("a", "b", "c"):
        assert name in lines[ids[name]] and "unreadable" not in lines[ids[name]]
    assert "success" in lines[ids["bad"]]
    assert "unreadable: its data.json is not valid JSON" in lines[ids["bad"]]
    assert "success" in lines[ids["gone"]]
    assert "unreadable: its data.json is missing" in lines[ids["gone"]]
    counted = hipercow("task", "status", cwd=site["project"])
    assert counted.stdout.strip() == "5 tasks: 5 success"


def test_info_of_an_unreadable_task_says_which_file_is_wrong(site):
    bad = site["ids"]["bad"]
    out = hipercow("task", "info", bad, cwd=site["project"])
    assert out.returncode == 1
    assert "Traceback" not in out.stderr
    assert f"Error: Task '{bad}' can't be read: its file" in out.stderr
    assert "data.json' is not valid JSON" in out.stderr


def test_a_task_folder_still_being_created_is_not_listed_until_long_left(site, tmp_path):
    root = site["root"]
    task_id = "f" * 32
    os.makedirs(root.task_dir(task_id))
    try:
        assert task_id not in api.task_list(root=root)
        past = time.time() - 3600
        os.utime(root.task_dir(task_id), (past, past))
        assert task_id in api.task_list(root=root)
        (row,) = api.task_summaries([task_id], root=root)
        assert row["status"] is None and "data.json is missing" in row["problem"]
    finally:
        os.rmdir(root.task_dir(task_id))


def test_the_panel_endpoint_lists_unreadable_tasks_among_the_others(site):
    status, page = site["server"].request("GET", "/hipercow/tasks", root="project")
    assert status == 200, page
    ids = site["ids"]
    rows = {row["id"]: row for row in page["tasks"]}
    assert page["total"] == 5 and page["counts"]["success"] == 5
    assert [rows[ids[n]]["name"] for n in ("a", "b", "c")] == ["a", "b", "c"]
    assert all(rows[ids[n]]["problem"] is None for n in ("a", "b", "c"))
    assert "not valid JSON" in rows[ids["bad"]]["problem"]
    assert rows[ids["bad"]]["resources"] is None  # unknown, not the defaults
    assert "missing" in rows[ids["gone"]]["problem"]


def test_a_closed_pipe_ends_the_cli_quietly(site, tmp_path):
    root = site["root"]
    for k in range(2000):  # ~150 kB of listing: more than a pipe holds
        fake_task(root, f"{k:032x}", f"many-{k}", time.time() - 10_000 - k)
    try:
        env = {**os.environ, "PYTHONPATH": SOURCE}
        proc = subprocess.Popen(
            [sys.executable, "-m", "hipercow_magic.cli", "task", "list", "-n", "0"],
            cwd=site["project"],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=env,
        )
        first = proc.stdout.readline()
        proc.stdout.close()  # as `| head -1` does
        stderr = proc.stderr.read().decode()
        code = proc.wait(timeout=120)
        assert len(first.split()) >= 2
        assert "Traceback" not in stderr and "BrokenPipeError" not in stderr, stderr
        assert stderr == ""
        assert code == 141
        piped = subprocess.run(
            f"{sys.executable} -m hipercow_magic.cli task list -n 0 | head -3",
            shell=True,
            cwd=site["project"],
            capture_output=True,
            text=True,
            env=env,
            timeout=120,
        )
        assert len(piped.stdout.splitlines()) == 3 and piped.stderr == ""
    finally:
        with contextlib.redirect_stdout(None):
            api.hipercow_purge(
                task_ids=[f"{k:032x}" for k in range(2000)], root=root, dry_run=False
            )


def test_the_log_endpoint_pages_a_200_mb_log_in_bounded_replies(site):
    server, task = site["server"], site["ids"]["a"]
    url = f"/hipercow/tasks/{task}/log"
    process = psutil.Process(server.proc.pid)
    before_rss = process.memory_info().rss
    status, tail = server.request("GET", url, root="project")
    assert status == 200
    size = 200 * 10_000 * 100 + len("the last line: é\n".encode())
    assert tail["size"] == size and tail["offset"] == size
    assert len(tail["text"].encode()) <= 256 * 1024
    assert tail["text"].endswith("the last line: é\n")
    assert tail["text"].startswith("x") and tail["start"] > 0  # begins at a line
    # scroll back three pages: each bounded, each ending where the next one starts
    page, pages = tail, 0
    while pages < 3:
        status, earlier = server.request("GET", url, root="project", before=page["start"])
        assert status == 200
        assert earlier["offset"] == page["start"]
        assert len(earlier["text"].encode()) == earlier["offset"] - earlier["start"]
        assert 0 < earlier["offset"] - earlier["start"] <= 256 * 1024
        page, pages = earlier, pages + 1
    # the first page, read onward, and tailing from the end
    _, first = server.request("GET", url, root="project", offset=0)
    assert first["start"] == 0 and first["offset"] == 256 * 1024
    _, rest = server.request("GET", url, root="project", offset=size)
    assert rest["text"] == "" and rest["offset"] == size
    _, small = server.request("GET", url, root="project", offset=0, limit=1000)
    assert small["offset"] == 1000
    # many requests at once: the server's memory stays bounded
    with ThreadPoolExecutor(8) as pool:
        replies = list(pool.map(lambda _: server.request("GET", url, root="project"), range(32)))
    assert all(s == 200 and len(r["text"].encode()) <= 256 * 1024 for s, r in replies)
    grown = process.memory_info().rss - before_rss
    print(f"tail reply {len(tail['text'].encode())} bytes; server RSS grew {grown / 1e6:.1f} MB")
    assert grown < 100 * 1024 * 1024


@pytest.mark.parametrize(
    ("query", "words"),
    [
        ({"offset": "-1"}, "'offset' must be between 0"),
        ({"offset": "abc"}, "'offset' must be a whole number"),
        ({"offset": str(10**30)}, "'offset' must be between 0"),
        ({"offset": str(10**12)}, "'offset' must lie within the log"),
        ({"before": "-5"}, "'before' must be between 0"),
        ({"before": str(10**12)}, "'before' must lie within the log"),
        ({"offset": "0", "before": "10"}, "not both"),
        ({"limit": "1"}, "'limit' must be between"),
    ],
)
def test_bad_log_offsets_are_bad_requests(site, query, words):
    task = site["ids"]["a"]
    status, body = site["server"].request(
        "GET", f"/hipercow/tasks/{task}/log", root="project", **query
    )
    assert status == 400, body
    assert words in body["message"]


def test_a_log_linked_out_of_the_root_is_not_served(site, tmp_path):
    root, server = site["root"], site["server"]
    task_id = "9" * 32
    fake_task(root, task_id, "linked", time.time() - 1000, status="success")
    secret = tmp_path / "secret.txt"
    secret.write_text("private words")
    os.symlink(secret, root.task_file(task_id, "log"))
    try:
        for endpoint in (f"/hipercow/tasks/{task_id}/log", f"/hipercow/tasks/{task_id}"):
            status, body = server.request("GET", endpoint, root="project")
            assert status == 403, body
            assert "is a link leading out of its root" in body["message"]
            assert "private words" not in json.dumps(body)
    finally:
        with contextlib.redirect_stdout(None):
            api.hipercow_purge(task_ids=[task_id], root=root)


def test_roots_answer_says_the_search_was_whole(site):
    status, body = site["server"].request("GET", "/hipercow/roots")
    assert status == 200
    assert body == {"roots": ["project"], "current": None, "message": None}


def test_the_magics_task_table_shows_unreadable_tasks_among_the_others(site):
    from hipercow_magic.widgets.tables import task_table

    root, ids = site["root"], site["ids"]
    listed = api.task_list(root=root)
    table = task_table(api.task_summaries(listed, root=root), len(listed), root.path)
    text = str(table)
    assert "5 tasks, newest first" in text
    for name in ("a", "b", "c"):
        assert ids[name][:8] in text
    assert "! unreadable: its data.json is not valid JSON" in text
    assert "! unreadable: its data.json is missing" in text
    html = table._repr_html_()
    assert html.count("class='hipercow-problem'") == 2
    assert "⚠ unreadable: its data.json is not valid JSON" in html
