"""Provisioning and environment loading on the local driver, beside their floors.

    python benchmarks/bench_provision.py [--repeats 3] [--tasks 10]

Floors, measured in the same run: the same `python -m venv` and `pip install` run directly
(what an installation task must do anyway), and a task in the `empty` environment (what a
task costs when nothing is loaded). Needs network access to PyPI (pip's cache is warmed
first, so both sides install from it).
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import hipercow_magic as hc  # noqa: E402

REQUIREMENT = "cowsay==6.1"


def floor_install(folder: str) -> float:
    venv = os.path.join(folder, "venv")
    shutil.rmtree(venv, ignore_errors=True)
    t0 = time.perf_counter()
    subprocess.run(
        [sys.executable, "-m", "venv", "--without-pip", "--system-site-packages", venv], check=True
    )
    subprocess.run(
        [
            os.path.join(venv, "bin", "python"),
            "-m",
            "pip",
            "install",
            "-q",
            "--disable-pip-version-check",
            REQUIREMENT,
        ],
        check=True,
    )
    return time.perf_counter() - t0


def provision_once() -> float:
    t0 = time.perf_counter()
    hc.hipercow_provision(requirements=[REQUIREMENT], show_log=False)
    return time.perf_counter() - t0


def task_times(environment: str, n: int) -> list[float]:
    """Created -> finished of n tasks run one at a time (ms)."""
    out = []
    for _ in range(n):
        task = hc.task_create_expr("1", environment=environment, namespace={})
        task.wait(timeout=60)
        times = hc.task_times(task.id)[0]
        out.append((times["finished"] - times["created"]) * 1000)
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--tasks", type=int, default=10)
    args = parser.parse_args()
    folder = tempfile.mkdtemp(prefix="hipercow-bench-provision-")
    os.chdir(folder)
    root = hc.hipercow_init(".", driver="local")
    try:
        floor_install(folder)  # warm pip's cache
        floors = [floor_install(folder) for _ in range(args.repeats)]
        provisions = [provision_once() for _ in range(args.repeats)]
        with open("funs.py", "w") as f:
            f.write("import cowsay\nK = 1\n\ndef f(x):\n    return x + K\n")
        hc.hipercow_environment_create(packages=["cowsay"], sources=["funs.py"], globals=["K", "f"])
        task_times("empty", 2)  # scheduler started and warm
        empty = task_times("empty", args.tasks)
        loaded = task_times("default", args.tasks)
    finally:
        from hipercow_magic.drivers.registry import load_driver

        info = load_driver(root, "local")
        stop = getattr(info, "stop_scheduler", None)
        if callable(stop):
            stop()
    print(f"installation of {REQUIREMENT} (median of {args.repeats}):")
    print(f"  floor, venv + pip install run directly: {statistics.median(floors):.2f} s")
    print(f"  hipercow_provision (as a local task):   {statistics.median(provisions):.2f} s")
    print(f"task created -> finished (median of {args.tasks}):")
    print(f"  floor, 'empty' environment:                        {statistics.median(empty):.0f} ms")
    print(
        f"  'default' with installation + package + source:    {statistics.median(loaded):.0f} ms"
    )
    shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
