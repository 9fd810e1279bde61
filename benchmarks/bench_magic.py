"""Speed of the notebook front end, with the floors measured in the same run.

1. Submission: a `%%hipercow` cell reading three small variables, run in a real IPython shell
   on the local driver; milliseconds from the cell starting to the task being submitted (its
   `status-submitted` marker), and to the cell returning. Floors: the same cell run locally,
   and `task_create_expr` called directly.
2. Live widgets: 100 task widgets on queued tasks refreshed by the one updater; its CPU use
   (the CPU time of the updater's threads, from the kernel's accounting: the updater and the
   listener of the root's task events) and status queries per tick (api calls and driver
   calls, counted). Floor: one batched status query per tick alone.
3. A task's end seen by its widget: milliseconds from the task's terminal marker being
   written to its live widget's model saying `success` (the updater at its usual 1 s
   refresh). Floor: a bare `watch_changes` waiter on the same root hearing of the same end.

Usage: python benchmarks/bench_magic.py [--cells N] [--seconds S] [--ends N]
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import tempfile
import threading
import time

import psutil

from hipercow_magic.core.root import find_root


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
    root = find_root()
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


def _threads_cpu(names: tuple[str, ...]) -> float:
    """CPU seconds used so far by this process's threads named in `names`."""
    native = {t.native_id for t in threading.enumerate() if t.name in names}
    return sum(t.user_time + t.system_time for t in psutil.Process().threads() if t.id in native)


def bench_widgets(seconds: float, n: int = 100) -> None:
    import hipercow_magic as hc
    from hipercow_magic import api
    from hipercow_magic.drivers.local import LocalDriver
    from hipercow_magic.widgets.model import TaskModel
    from hipercow_magic.widgets.task_widget import TaskWidget
    from hipercow_magic.widgets.updater import FAST_PERIOD, Updater

    root = find_root()
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
    threads = ("hipercow-updater", "hipercow-events")
    listeners = sum(t.name == "hipercow-events" for t in threading.enumerate())
    cpu0, ticks0, api0, driver0 = (
        _threads_cpu(threads),
        updater.ticks,
        counts["api"],
        counts["driver"],
    )
    wall0 = time.monotonic()
    time.sleep(seconds)
    wall = time.monotonic() - wall0
    cpu = _threads_cpu(threads) - cpu0
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
        f"{n} live task widgets, {wall:.0f} s at a 1 s refresh: updater thread "
        f"(+ {listeners} event listener) used "
        f"{100 * cpu / wall:.2f}% of a core; {ticks} ticks, {api_calls} status queries "
        f"({api_calls / max(ticks, 1):.2f} per tick), {driver_calls} driver status calls"
    )
    print(
        f"floor: one batched status query of {n} tasks costs {floor_per_tick * 1000:.2f} ms "
        f"of CPU = {100 * floor_per_tick * ticks / wall:.2f}% of a core at this tick rate"
    )
    hc.task_cancel(ids)
    _stop_scheduler(root)


class EndsHeard:
    """The floor for seeing a task's end: a bare `watch_changes` waiter on a thread of its
    own, noting when it first heard of each task once its success marker exists (`heard`:
    id -> time.time()).
    """

    def __init__(self, root):
        self.root = root
        self.heard: dict[str, float] = {}
        self._listening, self._stop = threading.Event(), threading.Event()
        threading.Thread(target=self._run, daemon=True).start()
        self._listening.wait(30)

    def _run(self) -> None:
        from hipercow_magic.engine.events import watch_changes

        with watch_changes(self.root) as changes:
            self._listening.set()
            while not self._stop.is_set():
                if changes.wait(0.2):
                    now = time.time()
                    for task_id in changes.ids or ():
                        if os.path.exists(self.root.task_file(task_id, "status-success")):
                            self.heard.setdefault(task_id, now)

    def after(self, task_id: str, ended: float) -> list[float]:
        """[milliseconds from `ended` to the notice about `task_id`], or [] if none came."""
        return [(self.heard[task_id] - ended) * 1000] if task_id in self.heard else []

    def close(self) -> None:
        """Stop listening."""
        self._stop.set()


def gated_code(gate: str) -> str:
    """Task code returning 1 once the file `gate` exists in the working directory."""
    return f"import os, time\nwhile not os.path.exists({gate!r}):\n    time.sleep(0.01)\n1"


def _ended_task(root, gate: str, before_gate) -> str:
    """Run a task until it waits on `gate`, call `before_gate(id)`, open the gate, and leave
    it half a second to end (nothing else in this process waits for it); the task's id.
    """
    import hipercow_magic as hc
    from hipercow_magic import api

    task = hc.task_create_expr(gated_code(gate), namespace={})
    api.task_wait(task.id, timeout=60, for_start=True)
    before_gate(task.id)
    open(gate, "w").close()
    time.sleep(0.5)
    return task.id


def bench_end_seen(n: int) -> None:
    from hipercow_magic.widgets.model import TaskModel
    from hipercow_magic.widgets.task_widget import TaskWidget
    from hipercow_magic.widgets.updater import FAST_PERIOD, Updater

    root = find_root()
    ends = EndsHeard(root)  # the floor first, on its own
    floor = []
    for i in range(n):
        task_id = _ended_task(root, f"floor-{i}", lambda _: None)
        ended = os.stat(root.task_file(task_id, "status-success")).st_mtime
        floor += ends.after(task_id, ended)
    ends.close()

    updater = Updater(interval=1.0)
    seen = []
    for i in range(n):
        shown: dict[str, float] = {}

        def watch(task_id, shown=shown):
            model = TaskModel(task_id, root)
            TaskWidget(model)
            model.on_change(
                lambda now: model.status == "success" and shown.setdefault("at", time.time())
            )
            updater.watch(model)
            time.sleep(FAST_PERIOD + random.random())  # settled: anywhere in a 1 s tick

        task_id = _ended_task(root, f"go-{i}", watch)
        deadline = time.monotonic() + 30
        while "at" not in shown and time.monotonic() < deadline:
            time.sleep(0.001)
        ended = os.stat(root.task_file(task_id, "status-success")).st_mtime
        seen.append((shown["at"] - ended) * 1000)
    updater.stop()
    print(
        f"a task's end seen by its live widget (shown over {FAST_PERIOD:.0f} s, 1 s refresh), "
        f"{n} tasks: {statistics.median(seen):.1f} ms median after its terminal marker "
        f"(max {max(seen):.1f} ms)"
    )
    if floor:
        print(
            f"floor: a bare watch_changes waiter heard of {len(floor)} such ends "
            f"{statistics.median(floor):.1f} ms median after the marker"
        )
    else:
        print("floor: this root's driver tells of no events (no watch_changes floor)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cells", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument("--ends", type=int, default=12)
    args = parser.parse_args()
    here = os.getcwd()
    with tempfile.TemporaryDirectory() as folder:
        os.chdir(folder)
        try:
            bench_submission(args.cells)
            bench_widgets(args.seconds)
            bench_end_seen(args.ends)
        finally:
            os.chdir(here)
    print(f"(machine: {os.cpu_count()} cores; threads alive {threading.active_count()})")


if __name__ == "__main__":
    main()
