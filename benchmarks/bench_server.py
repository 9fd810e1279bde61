"""How fast the panel's poll answers for a root of 10,000 tasks, and how soon the panel's
long poll hears of a task's end.

Builds a root with N tasks (created through the api as one bulk submission with no driver;
all but ACTIVE of them are then finished with the core's own `write_terminal`, as the runner
does), starts a real `jupyter server` on it, and times the request the panel makes on every
poll (`GET /hipercow/tasks?root=...&limit=50`), cold and warm, next to the floor: the server's
own `GET /api/status` in the same run. Also times the task table in-process, without HTTP,
and the first request for changes of that root (the look every later answer is told against).

Then, on a second root on the local driver: ENDS tasks, one at a time, each ended by a file
while a request to `GET /hipercow/changes?since=...` waits; milliseconds from the task's
terminal marker to the answer arriving. Floor: a bare `watch_changes` waiter in this process
hearing of the same end.

Usage: python benchmarks/bench_server.py [N] [ACTIVE] [ENDS]
"""

from __future__ import annotations

import contextlib
import io
import os
import pathlib
import statistics
import sys
import tempfile
import threading
import time

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1] / "tests"))

from bench_magic import EndsHeard, gated_code
from browser.jupyter_process import JupyterProcess

from hipercow_magic import api
from hipercow_magic.core.root import find_root
from hipercow_magic.core.task import write_terminal
from hipercow_magic.server.table import TaskTable

POLLS = 30


def make_root(folder: pathlib.Path, n: int, active: int) -> None:
    started = time.perf_counter()
    with contextlib.redirect_stdout(io.StringIO()):
        api.hipercow_init(str(folder))
    old = os.getcwd()
    os.chdir(folder)
    try:
        bundle = api.task_create_bulk_expr("x * 2", [{"x": i} for i in range(n)], namespace={})
    finally:
        os.chdir(old)
    root = find_root(str(folder))
    for k, task_id in enumerate(bundle.ids[active:]):
        status = "failure" if k % 50 == 0 else "success"
        write_terminal(
            root,
            task_id,
            status,
            result={"ok": status == "success", "value": k},
            started=time.time(),
        )
    print(f"root of {n} tasks ({active} unfinished) made in {time.perf_counter() - started:.1f} s")


def timed(fn, repeat: int) -> list[float]:
    out = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        out.append((time.perf_counter() - t0) * 1000)
    return out


def report(label: str, ms: list[float]) -> None:
    ms = sorted(ms)
    p95 = ms[min(len(ms) - 1, round(0.95 * (len(ms) - 1)))]
    print(
        f"  {label:<48} median {statistics.median(ms):7.1f} ms   p95 {p95:7.1f} ms   "
        f"max {ms[-1]:7.1f} ms"
    )


def bench_changes(server: JupyterProcess, folder: pathlib.Path, ends: int) -> None:
    """Milliseconds from a task's terminal marker to the long poll's answer, with the floor."""
    with contextlib.redirect_stdout(io.StringIO()):
        root = api.hipercow_init(str(folder), driver="local", idle_timeout=5)
    bare = EndsHeard(root)
    answered, floor = [], []
    old = os.getcwd()
    os.chdir(folder)
    try:
        for i in range(ends):
            gate = f"go-{i}"
            task = api.task_create_expr(gated_code(gate), namespace={})
            api.task_wait(task.id, timeout=60, for_start=True)
            _, first = server.request("GET", "/hipercow/changes", root=folder.name)
            arrived: list[float] = []

            end = {"id": task.id, "status": "success"}

            def ask(token=first["token"], arrived=arrived, end=end) -> None:
                while True:  # (an answer for the task's start may come first)
                    _, answer = server.request(
                        "GET", "/hipercow/changes", root=folder.name, since=token, timeout=60
                    )
                    if end in (answer["changed"] or []):
                        arrived.append(time.time())
                        return
                    token = answer["token"]

            asking = threading.Thread(target=ask)
            asking.start()
            time.sleep(0.3)  # the request is waiting at the server
            open(gate, "w").close()
            asking.join(60)
            ended = os.stat(root.task_file(task.id, "status-success")).st_mtime
            answered.append((arrived[0] - ended) * 1000)
            floor += bare.after(task.id, ended)
    finally:
        os.chdir(old)
        bare.close()
    print(f"a task's end heard by a waiting GET /hipercow/changes, {ends} tasks:")
    report("terminal marker to the answer arriving", answered)
    if floor:
        report("floor: a bare watch_changes waiter, same ends", floor)


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 10_000
    active = int(sys.argv[2]) if len(sys.argv) > 2 else 100
    ends = int(sys.argv[3]) if len(sys.argv) > 3 else 20
    with tempfile.TemporaryDirectory() as tmp:
        served = pathlib.Path(tmp) / "served"
        project = served / "project"
        project.mkdir(parents=True)
        make_root(project, n, active)

        print("in-process task table (no HTTP):")
        root = find_root(str(project))
        table = TaskTable()
        report("first page, cold (every summary read)", timed(lambda: table.page(root), 1))
        report("first page, warm", timed(lambda: table.page(root), POLLS))
        report("api.task_list alone", timed(lambda: api.task_list(root=root), POLLS))

        server = JupyterProcess(served, pathlib.Path(tmp) / "home").start()
        try:

            def get(endpoint, **query):
                status, _ = server.request("GET", endpoint, **query)
                assert status == 200, (endpoint, status)

            print(f"HTTP on a real jupyter server, {POLLS} polls each:")
            report("floor: GET /api/status", timed(lambda: get("/api/status"), POLLS))
            report(
                "panel poll, cold (first request)",
                timed(lambda: get("/hipercow/tasks", root="project", limit=50), 1),
            )
            report(
                "panel poll, warm (limit=50)",
                timed(lambda: get("/hipercow/tasks", root="project", limit=50), POLLS),
            )
            report(
                "panel poll, filtered status=created",
                timed(lambda: get("/hipercow/tasks", root="project", status="created"), POLLS),
            )
            report(
                "status bar poll (limit=0)",
                timed(lambda: get("/hipercow/tasks", root="project", limit=0), POLLS),
            )
            report(
                "roots discovery (GET /hipercow/roots)",
                timed(lambda: get("/hipercow/roots", path="project"), POLLS),
            )
            report(
                "changes, first request (the root's first look)",
                timed(lambda: get("/hipercow/changes", root="project"), 1),
            )
            report(
                "changes, an unknown token (answered at once)",
                timed(lambda: get("/hipercow/changes", root="project", since="x-1"), POLLS),
            )
            bench_changes(server, served / "live", ends)
        finally:
            server.stop()


if __name__ == "__main__":
    main()
