"""The slurm driver on the project's single-node Slurm: submission, polling cost, end-to-end.

Prints, each next to its floor measured in the same run:
  1. a bundle of N (default 1,000) tasks handed to Slurm: time and number of sbatch calls, next
     to one raw `sbatch --array=0-999`;
  2. Slurm commands and time per status poll with 10 and with N tasks active (held pending),
     and one scancel for all of them;
  3. end-to-end time of 100 trivial tasks (create -> all results back) with hipercow-magic and
     with submitit on the same Slurm, next to a raw array of 100 `python -c pass` jobs.

Needs Slurm (bash scripts/start-slurm.sh) and, for the comparison, submitit, which is not a
dependency of hipercow-magic:  pip install submitit
Usage: python benchmarks/bench_slurm.py [N] [E2E_TASKS]
"""

from __future__ import annotations

import contextlib
import io
import logging
import os
import subprocess
import sys
import tempfile
import time

from hipercow_magic import api
from hipercow_magic.core.root import find_root
from hipercow_magic.drivers.registry import load_driver
from hipercow_magic.drivers.slurm import COUNTS, scheduler_calls


def quiet():
    return contextlib.redirect_stdout(io.StringIO())


def sbatch(*args: str) -> str:
    out = subprocess.run(
        ["sbatch", "--parsable", *args], capture_output=True, text=True, check=True
    )
    return out.stdout.strip().split(";")[0]


def wait_gone(job_id: str, poll: float = 0.1) -> None:
    """Until no element of the job is pending, running or completing."""
    while subprocess.run(
        ["squeue", "-h", "-j", job_id, "-t", "PD,R,CG", "-o", "%i"],
        capture_output=True,
        text=True,
        check=False,
    ).stdout.strip():
        time.sleep(poll)


def bench_submission(n: int) -> None:
    folder = tempfile.mkdtemp(prefix="bench-slurm-submit-")
    os.chdir(folder)
    with quiet():
        api.hipercow_init(folder)
        bundle = api.task_create_bulk_expr("x", [{"x": i} for i in range(n)], driver=False)
        api.hipercow_configure("slurm")
    held = api.hipercow_resources(hold_until=60)
    driver = load_driver(find_root(folder), "slurm")
    driver.cluster_info()  # sinfo/scontrol once, as any earlier call would have done
    sbatch_before = COUNTS["sbatch"]
    t0 = time.perf_counter()
    with quiet():
        api.task_submit(bundle.ids, resources=held)
    submit = time.perf_counter() - t0
    print(
        f"1. {n} tasks submitted in {submit:.3f} s with {COUNTS['sbatch'] - sbatch_before} "
        "sbatch call(s)"
    )
    t0 = time.perf_counter()
    raw = sbatch(f"--array=0-{n - 1}", "--begin=now+3600", "--output=/dev/null", "--wrap=true")
    floor = time.perf_counter() - t0
    subprocess.run(["scancel", raw], check=True)
    print(f"   floor: one raw `sbatch --array=0-{n - 1}` took {floor:.3f} s")

    window = driver.config["poll_interval"]
    for active in (10, n):
        ids = bundle.ids[:active]
        time.sleep(window)  # let the last poll age, so this one asks Slurm
        calls, t0 = scheduler_calls(), time.perf_counter()
        statuses = api.task_status(ids)
        took = time.perf_counter() - t0
        print(
            f"2. poll of {active:>5} active tasks (task_status): {scheduler_calls() - calls} "
            f"Slurm command(s) ({', '.join(sorted(set(statuses)))}), {took * 1000:.0f} ms"
        )
        calls = scheduler_calls()
        for task_id in ids[:10]:
            api.task_scheduler_info(task_id)
        print(
            f"   then task_scheduler_info() for 10 of them: {scheduler_calls() - calls} "
            "command(s) (answered from that poll)"
        )
    t0 = time.perf_counter()
    proc = subprocess.run(
        [
            "squeue",
            "-h",
            "-r",
            "-t",
            "all",
            "-j",
            driver.job_record(bundle.ids[0])["array_job_id"],
            "-o",
            "%i|%T",
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    print(
        f"   floor: a bare squeue listing the {len(proc.stdout.splitlines())} elements took "
        f"{(time.perf_counter() - t0) * 1000:.0f} ms"
    )
    calls, t0 = COUNTS["scancel"], time.perf_counter()
    with quiet():
        cancelled = api.task_cancel(bundle.ids)
    print(
        f"   cancelling all {n}: {COUNTS['scancel'] - calls} scancel call(s), "
        f"{sum(cancelled)} cancelled, {time.perf_counter() - t0:.2f} s"
    )


def bench_hipercow(n: int) -> float:
    folder = tempfile.mkdtemp(prefix="bench-slurm-e2e-")
    os.chdir(folder)
    with quiet():
        api.hipercow_init(folder, driver="slurm")
    t0 = time.perf_counter()
    bundle = api.task_create_bulk_expr("x + 1", [{"x": i} for i in range(n)])
    assert bundle.wait(timeout=900)
    assert bundle.result() == [i + 1 for i in range(n)]
    return time.perf_counter() - t0


def add_one(x):
    return x + 1


def bench_submitit(n: int) -> float | None:
    try:
        import submitit
    except ImportError:
        return None
    # Without accounting submitit logs a warning on each of its sacct calls; it still works.
    logging.getLogger("submitit").setLevel(logging.ERROR)
    folder = tempfile.mkdtemp(prefix="bench-submitit-")
    executor = submitit.AutoExecutor(folder=folder, cluster="slurm")
    executor.update_parameters(timeout_min=10, slurm_partition="alltasks")
    t0 = time.perf_counter()
    jobs = executor.map_array(add_one, range(n))
    assert [j.result() for j in jobs] == [i + 1 for i in range(n)]
    return time.perf_counter() - t0


def bench_floor(n: int) -> float:
    t0 = time.perf_counter()
    job = sbatch(f"--array=0-{n - 1}", "--output=/dev/null", f"--wrap={sys.executable} -c pass")
    wait_gone(job)
    return time.perf_counter() - t0


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 1000
    e2e = int(sys.argv[2]) if len(sys.argv) > 2 else 100
    here = os.getcwd()
    try:
        bench_submission(n)
        floor = bench_floor(e2e)
        ours = bench_hipercow(e2e)
        theirs = bench_submitit(e2e)
    finally:
        os.chdir(here)
    print(f"3. {e2e} trivial tasks, create -> every result back:")
    print(f"   hipercow-magic (one array, default poll interval): {ours:.1f} s")
    print(
        "   submitit (map_array):                              "
        + (f"{theirs:.1f} s" if theirs is not None else "not installed (pip install submitit)")
    )
    print(f"   floor: raw array of {e2e} `python -c pass` jobs:     {floor:.1f} s")


if __name__ == "__main__":
    main()
