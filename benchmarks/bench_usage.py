"""What measuring each task's use costs the local scheduler: prints the figures, asserts nothing.

    python benchmarks/bench_usage.py [--tasks 100] [--window 20] [--repeats 3]

The scheduler's own CPU time (user + system of its process, not of its tasks) over a
window, as a share of one core:

1. idle: the scheduler of a root with nothing queued or running (the floor: its loop and
   nothing else);
2. with 100 tasks that sleep, each read every 2 s (after its first 10 s, read every 1 s)
   and its live figures stored every 5 s;
3. with 100 such tasks each asking for memory, so each is read every 0.5 s to enforce its
   limit;
4. with 30 tasks of 2 cores whose 2 pool workers sleep (trees of 3 processes sharing pages:
   counting each page once costs more, within its budget).

Beside them, the readings alone in this process: one pass over the 100 tasks' process trees
(what the scheduler does at each turn), and the least a reader of CPU time pays (open and
read /proc/<pid>/stat of each task), both at the scheduler's rates.
The machine may be shared: figures are medians of the repeats.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time

import psutil

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import hipercow_magic as hc  # noqa: E402
from hipercow_magic.core import store  # noqa: E402
from hipercow_magic.drivers.local import paths  # noqa: E402
from hipercow_magic.drivers.local.process_tree import (  # noqa: E402
    SHARED_PAGES_BUDGET,
    read_tree,
)
from hipercow_magic.drivers.local.sampler import (  # noqa: E402
    EVERY,
    EVERY_WITH_LIMIT,
    FIRST_SECONDS,
    TaskUsage,
)

SLEEP = "import time\ntime.sleep(3600)"
POOL_SLEEP = "import time, hipercow_magic\nhipercow_magic.pool().map(time.sleep, [3600, 3600])"


def scheduler_process(root) -> psutil.Process:
    """The root's running scheduler."""
    return psutil.Process(store.read_json(paths.scheduler_info(root))["pid"])


def share_of_a_core(process: psutil.Process, window: float) -> float:
    """The process's own CPU time over `window` seconds, as % of one core."""
    before, began = process.cpu_times(), time.monotonic()
    time.sleep(window)
    after, ended = process.cpu_times(), time.monotonic()
    used = (after.user - before.user) + (after.system - before.system)
    return 100 * used / (ended - began)


def running_pids(root, tasks) -> list[int]:
    """The processes of `tasks`, once every one of them runs."""
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        state = store.read_json_or(paths.state_file(root)) or {}
        running = state.get("running", {})
        if all(t.id in running for t in tasks):
            return [running[t.id]["pid"] for t in tasks]
        time.sleep(0.5)
    raise RuntimeError("the tasks did not all start within 5 minutes")


def measure(root, tasks: int, window: float, repeats: int, memory=None, pool=False) -> list:
    """The scheduler's share of a core with `tasks` sleeping tasks (each asking `memory`;
    with `pool`, each of 2 cores whose 2 pool workers sleep).
    """
    resources = hc.hipercow_resources(memory_per_node=memory, cores=2 if pool else 1)
    parallel = hc.hipercow_parallel("parallel") if pool else None
    code = POOL_SLEEP if pool else SLEEP
    handles = [
        hc.task_create_expr(code, namespace={}, resources=resources, parallel=parallel)
        for _ in range(tasks)
    ]
    pids = running_pids(root, handles)
    time.sleep(FIRST_SECONDS + 2)  # past every task's first seconds: the steady rate
    scheduler = scheduler_process(root)
    shares = [share_of_a_core(scheduler, window) for _ in range(repeats)]
    hc.task_cancel(handles)
    deadline = time.monotonic() + 120
    while any(psutil.pid_exists(p) for p in pids) and time.monotonic() < deadline:
        time.sleep(0.5)
    return shares


def reading_pass(pids: list[int], passes: int = 20) -> float:
    """Seconds one pass of the sampler's readings over these trees takes (median)."""
    usages = [TaskUsage(time.time(), 0) for _ in pids]
    times = []
    for _ in range(passes):
        began = time.perf_counter()
        for pid, usage in zip(pids, usages, strict=True):
            reading = read_tree(pid)
            if reading is not None:
                usage.add(reading, time.monotonic(), time.time())
        times.append(time.perf_counter() - began)
    return statistics.median(times)


def bare_reads(pids: list[int], passes: int = 20) -> float:
    """Seconds a bare pass reading /proc/<pid>/stat of each process takes (the least a
    reader of a process's CPU time pays).
    """
    times = []
    for _ in range(passes):
        began = time.perf_counter()
        for pid in pids:
            with open(f"/proc/{pid}/stat", "rb") as f:
                f.read()
        times.append(time.perf_counter() - began)
    return statistics.median(times)


def run_cases(root, args) -> None:
    """Measure and print each case against the root's running scheduler."""
    scheduler = scheduler_process(root)
    load = os.getloadavg()[0]
    print(f"== {args.tasks} sleeping tasks, windows of {args.window:g} s x {args.repeats}")
    print(f"   (load average {load:.2f} on {os.cpu_count()} cores)")
    idle = [share_of_a_core(scheduler, args.window) for _ in range(args.repeats)]
    print(f"floor: idle scheduler               {statistics.median(idle):6.2f} % of a core")
    every = measure(root, args.tasks, args.window, args.repeats)
    print(
        f"read every {EVERY:g} s (no memory asked)     {statistics.median(every):6.2f} % of a core"
    )
    limited = measure(root, args.tasks, args.window, args.repeats, memory="0.5")
    print(
        f"read every {EVERY_WITH_LIMIT:g} s (memory limit)    "
        f"{statistics.median(limited):6.2f} % of a core"
    )
    pools = measure(root, args.pools, args.window, args.repeats, pool=True)
    print(
        f"{args.pools} tasks with a 2-worker pool    {statistics.median(pools):6.2f} % of a core"
        f" (shared pages counted within {100 * SHARED_PAGES_BUDGET:g} % of a core)"
    )
    handles = [hc.task_create_expr(SLEEP, namespace={}) for _ in range(args.tasks)]
    pids = running_pids(root, handles)
    one_pass, bare = reading_pass(pids), bare_reads(pids)
    hc.task_cancel(handles)
    print(f"== the readings alone, one pass over {args.tasks} task trees")
    for what, seconds in (("the sampler's readings", one_pass), ("floor: /proc/<pid>/stat", bare)):
        at = ", ".join(
            f"{100 * seconds / rate:.2f} % every {rate:g} s" for rate in (EVERY, EVERY_WITH_LIMIT)
        )
        print(f"{what:24} {seconds * 1000:6.2f} ms a pass: {at}")


def main() -> None:
    """Run the cases on a root of its own, then stop its scheduler and tasks."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", type=int, default=100)
    parser.add_argument("--pools", type=int, default=30)
    parser.add_argument("--window", type=float, default=20.0)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    folder = tempfile.mkdtemp(prefix="bench-usage-")
    os.chdir(folder)
    os.environ.setdefault("HIPERCOW_KEY_FILE", os.path.join(folder, "key"))
    cores = max(args.tasks, 2 * args.pools)
    node = {"name": "big", "cores": cores, "memory": args.tasks}
    root = hc.hipercow_init(".", driver="local", idle_timeout=600, nodes=[node])
    warm = hc.task_create_expr("1", namespace={})
    warm.wait(timeout=120)  # the scheduler is started, and stays while the root is idle
    scheduler = scheduler_process(root)
    try:
        run_cases(root, args)
    finally:
        for process in scheduler.children(recursive=True):
            process.kill()
        scheduler.kill()


if __name__ == "__main__":
    main()
