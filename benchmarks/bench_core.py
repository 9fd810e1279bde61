"""Core engine speed on the local driver, with the machine's floors measured in the same run.

    python benchmarks/bench_core.py [--tasks 1000] [--repeat 3] [--singles 50] [--status 10000]

1. Floors: fork+waitpid of this process, a 1 KB file written and renamed into place,
   `python -c pass`, os.stat of 10,000 files; and the ceiling of a process per task: this
   process forking one child per trivial task, the child running it as the local driver's
   task processes do (`run_task`: its files read, its result and markers written), as many
   at once as there are cores, with no scheduler and no waiting: tasks/s.
2. One trivial task (scheduler warm, idle between tasks): the creation side (create and
   submit, in this process) and the time from creating it to its result in hand.
3. 1,000 trivial tasks as one bulk (`task_create_bulk_expr`, then `task_create_bulk_call`),
   each its own process with its own files, in three stages: create (and submit), run (until
   every task's terminal marker is there: this process looks at the markers every
   millisecond, so the stage is about the work, not about how a waiter sleeps), gather (every
   status, then every result, read from the files); and the same bulk waited for with
   `Bundle.wait`, as a user would. Medians over `--repeat` runs.
4. task_status of 10,000 finished tasks: first call (files) and again (cached).

Targets: bulk created to all results gathered >= 600 tasks/s; the creation side of
one trivial task well under 5 ms; task_status of 10,000 finished tasks <= 100 ms.
The machine may be shared: figures are medians, printed beside the floors of the same run.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import os
import statistics
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import hipercow_magic as hc  # noqa: E402
from hipercow_magic.core.root import Root, find_root  # noqa: E402
from hipercow_magic.core.status import TERMINAL  # noqa: E402
from hipercow_magic.core.task import marker_status  # noqa: E402


def identity(x):
    """What each call task of the bulk runs: its argument back."""
    return x


def floor_fork(n: int = 200) -> float:
    """Median seconds to fork this process and wait for the child, which exits at once."""
    times = []
    for _ in range(n):
        t0 = time.perf_counter()
        pid = os.fork()
        if pid == 0:
            os._exit(0)
        os.waitpid(pid, 0)
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def floor_write_rename(folder: str, n: int = 2000) -> float:
    """Seconds per 1 KB temporary file written, closed and renamed into place."""
    data = b"x" * 1024
    t0 = time.perf_counter()
    for i in range(n):
        tmp = os.path.join(folder, f".tmp-{i}")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
        os.write(fd, data)
        os.close(fd)
        os.replace(tmp, os.path.join(folder, f"f{i}"))
    return (time.perf_counter() - t0) / n


def floor_python_start(n: int = 20) -> float:
    """Median seconds of `python -c pass`."""
    times = []
    for _ in range(n):
        t0 = time.perf_counter()
        subprocess.run([sys.executable, "-c", "pass"], check=True)
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def floor_stat(folder: str, n: int = 10_000) -> float:
    """Seconds to os.stat `n` files."""
    paths = []
    for i in range(n):
        p = os.path.join(folder, f"s{i}")
        open(p, "w").close()
        paths.append(p)
    t0 = time.perf_counter()
    for p in paths:
        os.stat(p)
    return time.perf_counter() - t0


def floor_forked_tasks(folder: str, n: int = 1000) -> float:
    """Tasks/s of `n` trivial tasks, each run by `run_task` in a child forked from this
    process, one child per core at a time: what a process per task costs on its own.
    """
    from hipercow_magic.node.runner import run_task

    here = os.getcwd()
    root = hc.hipercow_init(folder)  # no driver: the tasks are only written
    os.chdir(folder)
    try:
        ids = hc.task_create_bulk_call(identity, list(range(n)), root=root).ids
    finally:
        os.chdir(here)
    running: set[int] = set()
    t0 = time.perf_counter()
    for task_id in ids:
        if len(running) >= (os.cpu_count() or 1):
            pid, status = os.wait()
            running.discard(pid)
            assert status == 0
        pid = os.fork()
        if pid == 0:
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, 1)
            os.dup2(devnull, 2)
            os._exit(run_task(root, task_id))
        running.add(pid)
    for pid in running:
        assert os.waitpid(pid, 0)[1] == 0
    elapsed = time.perf_counter() - t0
    assert hc.task_status(ids, root=root) == ["success"] * n
    return n / elapsed


def until_terminal(root, ids: list[str]) -> None:
    """Return once every task has a terminal marker: looks every millisecond at the first
    task not known to have ended (tasks start in order, so that is one stat a look), then
    at all of them once that passes the last.
    """
    left = list(ids)
    while left:
        at = 0
        while at < len(left) and marker_status(root, left[at]) in TERMINAL:
            at += 1
        left = left[at:] if at < len(left) else []
        if not left:
            left = [i for i in ids if marker_status(root, i) not in TERMINAL]
        if left:
            time.sleep(0.001)


def bulk_once(n: int, kind: str, root) -> dict:
    """One bulk of `n` trivial tasks: seconds of each stage."""
    t0 = time.perf_counter()
    if kind == "expr":
        bundle = hc.task_create_bulk_expr("i * 2", [{"i": i} for i in range(n)], namespace={})
        expected = [i * 2 for i in range(n)]
    else:
        bundle = hc.task_create_bulk_call(identity, list(range(n)))
        expected = list(range(n))
    t1 = time.perf_counter()
    until_terminal(root, bundle.ids)
    t2 = time.perf_counter()
    statuses = bundle.status()
    values = bundle.result()
    t3 = time.perf_counter()
    assert statuses == ["success"] * n and values == expected
    return {"create": t1 - t0, "run": t2 - t1, "gather": t3 - t2, "total": t3 - t0}


def bulk_with_wait(n: int) -> float:
    """Seconds from creating a bulk to every result in hand, waiting with Bundle.wait."""
    t0 = time.perf_counter()
    bundle = hc.task_create_bulk_call(identity, list(range(n)))
    assert bundle.wait(timeout=600)
    values = bundle.result()
    elapsed = time.perf_counter() - t0
    assert values == list(range(n))
    return elapsed


def main() -> None:
    """Run every section and print its figures."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--tasks", type=int, default=1000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--status", type=int, default=10_000)
    parser.add_argument("--singles", type=int, default=50)
    args = parser.parse_args()
    base = tempfile.mkdtemp(prefix="hipercow-bench-")
    os.chdir(base)
    floors = tempfile.mkdtemp(dir=base)
    print(f"== floors (load average {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores)")
    print(f"fork+waitpid:             {floor_fork() * 1000:7.2f} ms")
    print(f"write 1 KB + rename:      {floor_write_rename(floors) * 1e6:7.1f} us")
    print(f"python -c pass:           {floor_python_start() * 1000:7.1f} ms")
    print(f"os.stat of 10,000 files:  {floor_stat(floors) * 1000:7.1f} ms")
    with contextlib.redirect_stdout(io.StringIO()):
        ceiling = floor_forked_tasks(os.path.join(floors, "forked"), args.tasks)
    print(
        f"forked tasks, no scheduler: {ceiling:5.0f} tasks/s  (the ceiling of a process per task)"
    )

    hc.hipercow_init(".", driver="local", idle_timeout=120)
    root = find_root(".")
    hc.task_create_expr("1", namespace={}).wait(timeout=60)

    print("== one trivial task (scheduler warm, idle between tasks)")
    x, y, z = 1, 2.0, "three"
    create, in_hand = [], []
    for _ in range(args.singles):
        t0 = time.perf_counter()
        task = hc.task_create_expr("x + y", namespace={"x": x, "y": y, "z": z})
        create.append(time.perf_counter() - t0)
        until_terminal(root, [task.id])
        assert task.result() == 3.0
        in_hand.append(time.perf_counter() - t0)
        time.sleep(0.02)
    print(f"create+submit median:     {statistics.median(create) * 1000:7.2f} ms  (target << 5)")
    print(f"create to result median:  {statistics.median(in_hand) * 1000:7.2f} ms")

    for kind, call in (("expr", "task_create_bulk_expr"), ("call", "task_create_bulk_call")):
        print(f"== {args.tasks} trivial tasks as one bulk ({call}), median of {args.repeat}")
        runs = [bulk_once(args.tasks, kind, root) for _ in range(args.repeat)]
        for stage in ("create", "run", "gather", "total"):
            value = statistics.median(r[stage] for r in runs)
            print(f"{stage + ':':26}{value:7.3f} s")
        total = statistics.median(r["total"] for r in runs)
        print(f"throughput:               {args.tasks / total:7.0f} tasks/s  (target >= 600)")
    waited = statistics.median(bulk_with_wait(args.tasks) for _ in range(args.repeat))
    print(f"== the call bulk waited for with Bundle.wait, median of {args.repeat}")
    print(f"created to results:       {waited:7.3f} s  ({args.tasks / waited:.0f} tasks/s)")

    print(f"== task_status of {args.status} finished tasks")
    more = hc.task_create_bulk_call(identity, list(range(args.status)))
    until_terminal(root, more.ids)
    cold = Root(os.getcwd())  # a fresh root object: no cached terminal states
    t0 = time.perf_counter()
    statuses = hc.task_status(more.ids, root=cold)
    cold_time = time.perf_counter() - t0
    t0 = time.perf_counter()
    hc.task_status(more.ids, root=cold)
    warm_time = time.perf_counter() - t0
    assert statuses == ["success"] * args.status
    print(f"first call (files):       {cold_time * 1000:7.1f} ms  (target <= 100)")
    print(f"again (cached):           {warm_time * 1000:7.1f} ms")
    print(f"(root kept at {base})")


if __name__ == "__main__":
    main()
