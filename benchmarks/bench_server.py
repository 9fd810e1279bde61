"""How fast the panel's poll answers for a root of 10,000 tasks.

Builds a root with N tasks (created through the api as one bulk submission with no driver;
all but ACTIVE of them are then finished with the core's own `write_terminal`, as the runner
does), starts a real `jupyter server` on it, and times the request the panel makes on every
poll (`GET /hipercow/tasks?root=...&limit=50`), cold and warm, next to the floor: the server's
own `GET /api/status` in the same run. Also times the task table in-process, without HTTP.

Usage: python benchmarks/bench_server.py [N] [ACTIVE]
"""

from __future__ import annotations

import contextlib
import io
import os
import pathlib
import statistics
import sys
import tempfile
import time

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1] / "tests"))

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


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 10_000
    active = int(sys.argv[2]) if len(sys.argv) > 2 else 100
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
        finally:
            server.stop()


if __name__ == "__main__":
    main()
