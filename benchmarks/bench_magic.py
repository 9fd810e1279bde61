"""Speed of the notebook front end, with the floors measured in the same run.

1. Submission: a `%%hipercow` cell reading three small variables, run in a real IPython shell
   on the local driver; milliseconds from the cell starting to the task being submitted (its
   `status-submitted` marker), and to the cell returning. Floors: the same cell run locally,
   and `task_create_expr` called directly.
2. Live widgets: 100 task widgets on queued tasks refreshed by the one updater; its CPU use
   (the updater thread's own CPU time, from the kernel's accounting) and status queries per
   tick (api calls and driver calls, counted). Floor: one batched status query per tick alone.

Usage: python benchmarks/bench_magic.py [--cells N] [--seconds S]
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import threading
import time

import psutil


def _stop_scheduler(root) -> None:
    from hipercow_magic.core import store
    from hipercow_magic.drivers.local import paths

    info = store.read_json_or(paths.scheduler_info(root))
    if info:
        try:
            proc = psutil.Process(info["pid"])
            for child in proc.children(recursive=True):
                child.kill()
            proc.kill()
        except psutil.NoSuchProcess:
            pass


def bench_submission(cells: int) -> None:
    import contextlib

    with open(os.devnull, "w") as devnull, contextlib.redirect_stdout(devnull):
        lines = _submission(cells)
    print("\n".join(lines))


def _submission(cells: int) -> list[str]:
    from IPython.testing.globalipapp import start_ipython

    import hipercow_magic as hc
    from hipercow_magic.core import store
    from hipercow_magic.magics import loaded_magics

    ip = start_ipython()
    ip.run_line_magic("load_ext", "hipercow_magic")
    ip.run_line_magic("hipercow", "init . --driver local")
    ip.user_ns.update(a=1, b=[1.0, 2.0, 3.0], c="label", unrelated=list(range(100_000)))
    body = "d = a + len(b)\ne = c * 2\nd"
    root = hc.api.find_root()
    lines = []
    for mode in ("text", "widget"):
        loaded_magics(ip).display = mode
        ip.run_cell(f"%%hipercow\n{body}")  # warm up: driver loaded, scheduler started
        to_submit, to_return = [], []
        for _ in range(cells):
            start = time.time()
            ip.run_cell(f"%%hipercow -o h\n{body}")
            returned = time.time()
            task = ip.user_ns["h"]
            submitted = store.read_json(root.task_file(task.id, "status-submitted"))["time"]
            to_submit.append((submitted - start) * 1000)
            to_return.append((returned - start) * 1000)
        lines.append(
            f"%%hipercow cell ({mode} display), {cells} cells: submitted after "
            f"{statistics.median(to_submit):.1f} ms median (p90 "
            f"{sorted(to_submit)[int(cells * 0.9)]:.1f}), cell returned after "
            f"{statistics.median(to_return):.1f} ms median"
        )
    local = []
    for _ in range(cells):
        start = time.perf_counter()
        ip.run_cell(body + "\nNone")
        local.append((time.perf_counter() - start) * 1000)
    direct = []
    namespace = {"a": 1, "b": [1.0, 2.0, 3.0], "c": "label"}
    for _ in range(cells):
        start = time.perf_counter()
        hc.task_create_expr(body, namespace=namespace)
        direct.append((time.perf_counter() - start) * 1000)
    lines.append(
        f"floor: the same cell run locally {statistics.median(local):.2f} ms median; "
        f"task_create_expr called directly {statistics.median(direct):.1f} ms median"
    )
    for task_id in hc.task_list():
        hc.task_wait(task_id, timeout=120)
    _stop_scheduler(root)
    return lines


def _thread_cpu(native_id: int) -> float:
    for t in psutil.Process().threads():
        if t.id == native_id:
            return t.user_time + t.system_time
    return 0.0


def bench_widgets(seconds: float, n: int = 100) -> None:
    import hipercow_magic as hc
    from hipercow_magic import api
    from hipercow_magic.drivers.local import LocalDriver
    from hipercow_magic.widgets.model import TaskModel
    from hipercow_magic.widgets.task_widget import TaskWidget
    from hipercow_magic.widgets.updater import FAST_PERIOD, Updater

    root = hc.api.find_root()
    held = hc.hipercow_resources(hold_until=60)
    ids = [hc.task_create_expr(f"v = {i}", namespace={}, resources=held).id for i in range(n)]
    models = [TaskModel(i, root) for i in ids]
    widgets = [TaskWidget(m) for m in models]

    counts = {"api": 0, "driver": 0}
    real_api, real_driver = api.task_status, LocalDriver.status

    def counted_api(*args, **kwargs):
        counts["api"] += 1
        return real_api(*args, **kwargs)

    def counted_driver(self, *args, **kwargs):
        counts["driver"] += 1
        return real_driver(self, *args, **kwargs)

    api.task_status, LocalDriver.status = counted_api, counted_driver
    updater = Updater(interval=1.0)
    for m in models:
        updater.watch(m)
    time.sleep(FAST_PERIOD + 1)  # past the first seconds of fast refreshes
    native = updater._thread.native_id
    cpu0, ticks0, api0, driver0 = (
        _thread_cpu(native),
        updater.ticks,
        counts["api"],
        counts["driver"],
    )
    wall0 = time.monotonic()
    time.sleep(seconds)
    wall = time.monotonic() - wall0
    cpu = _thread_cpu(native) - cpu0
    ticks = updater.ticks - ticks0
    api_calls, driver_calls = counts["api"] - api0, counts["driver"] - driver0
    updater.stop()
    api.task_status, LocalDriver.status = real_api, real_driver
    assert all(m.status == "submitted" for m in models) and len(widgets) == n

    calls = 20
    start = time.process_time()
    for _ in range(calls):
        real_api(ids, follow=False, root=root)
    floor_per_tick = (time.process_time() - start) / calls
    print(
        f"{n} live task widgets, {wall:.0f} s at a 1 s refresh: updater thread used "
        f"{100 * cpu / wall:.2f}% of a core; {ticks} ticks, {api_calls} status queries "
        f"({api_calls / max(ticks, 1):.2f} per tick), {driver_calls} driver status calls"
    )
    print(
        f"floor: one batched status query of {n} tasks costs {floor_per_tick * 1000:.2f} ms "
        f"of CPU = {100 * floor_per_tick * ticks / wall:.2f}% of a core at this tick rate"
    )
    hc.task_cancel(ids)
    _stop_scheduler(root)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cells", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=20)
    args = parser.parse_args()
    here = os.getcwd()
    with tempfile.TemporaryDirectory() as folder:
        os.chdir(folder)
        try:
            bench_submission(args.cells)
            bench_widgets(args.seconds)
        finally:
            os.chdir(here)
    print(f"(machine: {os.cpu_count()} cores; threads alive {threading.active_count()})")


if __name__ == "__main__":
    main()
