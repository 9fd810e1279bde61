"""Core engine speed on the local driver, with the machine's floors measured in the same run.

    python benchmarks/bench_core.py [--tasks 1000] [--status 10000]

Targets (local driver warm and idle): create+submit one expression task <= 10 ms median;
waited (created -> started) <= 50 ms median; 1,000 trivial tasks as one bulk created and
submitted <= 1 s and all finished <= 10 s; task_status of 10,000 finished tasks <= 100 ms.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import hipercow_magic as hc  # noqa: E402
from hipercow_magic.core import store  # noqa: E402
from hipercow_magic.core.root import Root  # noqa: E402


def floor_python_start(n: int = 20) -> float:
    times = []
    for _ in range(n):
        t0 = time.perf_counter()
        subprocess.run([sys.executable, "-c", "pass"], check=True)
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def floor_atomic_write(folder: str, n: int = 2000) -> float:
    data = b"x" * 1024
    t0 = time.perf_counter()
    for i in range(n):
        store.write_bytes(os.path.join(folder, f"f{i}"), data)
    return (time.perf_counter() - t0) / n


def floor_stat(folder: str, n: int = 10_000) -> float:
    paths = []
    for i in range(n):
        p = os.path.join(folder, f"s{i}")
        open(p, "w").close()
        paths.append(p)
    t0 = time.perf_counter()
    for p in paths:
        os.stat(p)
    return time.perf_counter() - t0


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--tasks", type=int, default=1000)
    parser.add_argument("--status", type=int, default=10_000)
    parser.add_argument("--singles", type=int, default=50)
    args = parser.parse_args()
    base = tempfile.mkdtemp(prefix="hipercow-bench-")
    os.chdir(base)
    floors = tempfile.mkdtemp(dir=base)
    print("== floors")
    print(f"python -c pass:           {floor_python_start() * 1000:7.1f} ms")
    print(f"atomic 1 KB write:        {floor_atomic_write(floors) * 1e6:7.1f} us")
    print(f"os.stat of 10,000 files:  {floor_stat(floors) * 1000:7.1f} ms")

    hc.hipercow_init(".", driver="local", idle_timeout=120)
    warm = hc.task_create_expr("1", namespace={})
    warm.wait(timeout=60)

    print("== single tasks (scheduler warm, idle between tasks)")
    x, y, z = 1, 2.0, "three"
    create, waited = [], []
    for _ in range(args.singles):
        t0 = time.perf_counter()
        task = hc.task_create_expr("x + y", namespace={"x": x, "y": y, "z": z})
        create.append(time.perf_counter() - t0)
        task.wait(timeout=60)
        waited.append(task.info().waited)
        time.sleep(0.02)
    print(f"create+submit median:     {statistics.median(create) * 1000:7.2f} ms  (target <= 10)")
    print(f"waited median:            {statistics.median(waited) * 1000:7.2f} ms  (target <= 50)")

    print(f"== {args.tasks} trivial tasks as one bulk")
    rows = [{"i": i} for i in range(args.tasks)]
    t0 = time.perf_counter()
    bundle = hc.task_create_bulk_expr("i * 2", rows)
    submitted = time.perf_counter() - t0
    bundle.wait(timeout=600)
    finished = time.perf_counter() - t0
    assert bundle.status(reduce=True) == "success"
    print(f"created and submitted:    {submitted:7.3f} s  (target <= 1)")
    print(
        f"all finished:             {finished:7.3f} s  (target <= 10; "
        f"{args.tasks / finished:.0f} tasks/s)"
    )

    print(f"== task_status of {args.status} finished tasks")
    ids = list(bundle.ids)
    if len(ids) < args.status:
        more = hc.task_create_bulk_expr("i", [{"i": i} for i in range(args.status - len(ids))])
        more.wait(timeout=1200)
        ids += more.ids
    ids = ids[: args.status]
    cold = Root(os.getcwd())  # a fresh root object: no cached terminal states
    t0 = time.perf_counter()
    statuses = hc.task_status(ids, root=cold)
    cold_time = time.perf_counter() - t0
    t0 = time.perf_counter()
    hc.task_status(ids, root=cold)
    warm_time = time.perf_counter() - t0
    assert statuses == ["success"] * len(ids)
    print(f"first call (files):       {cold_time * 1000:7.1f} ms  (target <= 100)")
    print(f"again (cached):           {warm_time * 1000:7.1f} ms")
    print(f"(root kept at {base})")


if __name__ == "__main__":
    main()
