"""The slurm driver on the project's single-node Slurm: submission, polling cost, end-to-end.

Prints, each next to its floor measured in the same run:
  1. a bundle of N (default 1,000) tasks handed to Slurm: time and number of sbatch calls, next
     to one raw `sbatch --array=0-999`;
  2. Slurm commands and time per status poll with 10 and with N tasks active (held pending),
     and one scancel for all of them;
  3. end-to-end time of 100 trivial tasks (create -> all results back) with hipercow-magic and
     with submitit on the same Slurm, next to a raw array of 100 `python -c pass` jobs, run
     in turns (--repeats times) so each figure has its floor beside it; target <= 1.3 x the raw
     array;
  4. what each Slurm task pays before its code runs: a fresh interpreter importing the runner
     (`python -X importtime -c "import hipercow_magic.runner"`, its costliest imports) against
     `python -c pass`.

Needs Slurm (bash scripts/start-slurm.sh) and, for the comparison, submitit, which is not a
dependency of hipercow-magic:  pip install -e '.[bench]'
Usage: python benchmarks/bench_slurm.py [N] [E2E_TASKS] [--repeats R] [--e2e-only | --start-only]
"""

from __future__ import annotations

import argparse
import contextlib
import io
import logging
import os
import resource
import statistics
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


@contextlib.contextmanager
def no_stderr():
    """Send this process's (and its children's) stderr to /dev/null meanwhile."""
    saved, null = os.dup(2), os.open(os.devnull, os.O_WRONLY)
    os.dup2(null, 2)
    os.close(null)
    try:
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)


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


def bench_hipercow(n: int) -> tuple[float, float]:
    """Seconds from create to every result in hand, and to the last task's end (by its
    own record): the difference is how late the waiter heard of it.
    """
    folder = tempfile.mkdtemp(prefix="bench-slurm-e2e-")
    os.chdir(folder)
    with quiet():
        api.hipercow_init(folder, driver="slurm")
    t0, epoch = time.perf_counter(), time.time()
    bundle = api.task_create_bulk_expr("x + 1", [{"x": i} for i in range(n)])
    assert bundle.wait(timeout=900)
    assert bundle.result() == [i + 1 for i in range(n)]
    took = time.perf_counter() - t0
    return took, max(t["finished"] for t in api.task_times(bundle)) - epoch


def add_one(x):
    return x + 1


def bench_submitit(n: int) -> float | None:
    try:
        import submitit
    except ImportError:
        return None
    # Without accounting submitit logs a warning on each of its sacct calls, and sacct says
    # so on stderr; it still works.
    logging.getLogger("submitit").setLevel(logging.ERROR)
    folder = tempfile.mkdtemp(prefix="bench-submitit-")
    executor = submitit.AutoExecutor(folder=folder, cluster="slurm")
    executor.update_parameters(timeout_min=10, slurm_partition="alltasks")
    t0 = time.perf_counter()
    with no_stderr():
        jobs = executor.map_array(add_one, range(n))
        results = [j.result() for j in jobs]
    assert results == [i + 1 for i in range(n)]
    return time.perf_counter() - t0


def bench_floor(n: int) -> float:
    t0 = time.perf_counter()
    job = sbatch(f"--array=0-{n - 1}", "--output=/dev/null", f"--wrap={sys.executable} -c pass")
    wait_gone(job)
    return time.perf_counter() - t0


def fresh_processes(commands: list[list[str]], env: dict | None = None) -> tuple[float, float]:
    """Median wall and CPU (user + system) seconds of the commands, each run in turn."""
    walls, cpus = [], []
    for command in commands:
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        t0 = time.perf_counter()
        subprocess.run(command, check=True, stdout=subprocess.DEVNULL, env=env)
        walls.append(time.perf_counter() - t0)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpus.append(after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime)
    return statistics.median(walls), statistics.median(cpus)


def runner_runs(n: int = 15) -> tuple[float, float]:
    """What one trivial task costs a node: `python -m hipercow_magic.runner ROOT ID`, as a
    batch job runs it (median wall and CPU seconds).
    """
    folder = tempfile.mkdtemp(prefix="bench-slurm-runner-")
    os.chdir(folder)
    with quiet():
        api.hipercow_init(folder)
        bundle = api.task_create_bulk_expr("x + 1", [{"x": i} for i in range(n)], driver=False)
    runs = [[sys.executable, "-m", "hipercow_magic.runner", folder, i] for i in bundle.ids]
    figures = fresh_processes(runs)
    assert bundle.result() == [i + 1 for i in range(n)]
    return figures


def compiled_each_time() -> bool:
    """Whether every task compiles the package from source: this Python writes no bytecode
    (PYTHONDONTWRITEBYTECODE) and the package has none (an editable install's case).
    """
    import importlib.util

    import hipercow_magic.runner

    cached = importlib.util.cache_from_source(hipercow_magic.runner.__file__)
    return sys.flags.dont_write_bytecode and not os.path.exists(cached)


def with_bytecode(command: list[str]) -> tuple[float, float]:
    """`command`'s median wall and CPU seconds with the package's bytecode cached (in a
    temporary PYTHONPYCACHEPREFIX, filled by a first run), as an installed package has it.
    """
    with tempfile.TemporaryDirectory(prefix="bench-slurm-pycache-") as prefix:
        env = {**os.environ, "PYTHONPYCACHEPREFIX": prefix}
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        subprocess.run(command, check=True, stdout=subprocess.DEVNULL, env=env)
        return fresh_processes([command] * 15, env=env)


def bench_runner_start(top: int = 12) -> None:
    proc = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", "import hipercow_magic.runner"],
        capture_output=True,
        text=True,
        check=True,
    )
    rows = []  # (cumulative us, self us, name as indented by -X importtime)
    for line in proc.stderr.splitlines():
        fields = line.removeprefix("import time:").split("|")
        if len(fields) == 3 and fields[1].strip().isdigit():
            rows.append((int(fields[1]), int(fields[0]), fields[2].rstrip()))
    runner = next(
        cumulative for cumulative, _, name in rows if name.strip() == "hipercow_magic.runner"
    )
    loaded = subprocess.run(
        [sys.executable, "-c", "import sys, hipercow_magic.runner; print(len(sys.modules))"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    print(
        f"4. python -X importtime -c 'import hipercow_magic.runner': {runner / 1000:.1f} ms of "
        f"imports ({loaded} modules loaded); costliest (cumulative, self, module):"
    )
    for cumulative, own, name in sorted(rows, reverse=True)[:top]:
        print(f"   {cumulative / 1000:7.1f} ms {own / 1000:6.1f} ms  {name}")
    python = [sys.executable, "-c"]
    for what, (wall, cpu) in [
        ("floor `python -c pass`", fresh_processes([[*python, "pass"]] * 15)),
        (
            "`import hipercow_magic.runner`",
            fresh_processes([[*python, "import hipercow_magic.runner"]] * 15),
        ),
        ("one trivial task run by the runner", runner_runs()),
    ]:
        print(f"   {what:36} {wall * 1000:5.0f} ms wall, {cpu * 1000:5.0f} ms CPU (medians)")
    if compiled_each_time():
        wall, cpu = with_bytecode([*python, "import hipercow_magic.runner"])
        print(
            "   PYTHONDONTWRITEBYTECODE is set and the package has no bytecode, so every task "
            "above compiled\n   hipercow-magic's modules from source; with bytecode (an "
            f"installed package's case): import {wall * 1000:.0f} ms wall, {cpu * 1000:.0f} ms CPU"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("n", nargs="?", type=int, default=1000, help="tasks in 1 and 2")
    parser.add_argument("e2e", nargs="?", type=int, default=100, help="tasks in 3")
    parser.add_argument("--repeats", type=int, default=3, help="turns of 3 (medians)")
    parser.add_argument("--e2e-only", action="store_true", help="only 3 and 4")
    parser.add_argument("--start-only", action="store_true", help="only 4 (needs no Slurm)")
    args = parser.parse_args()
    if args.start_only:
        bench_runner_start()
        return
    print(f"load average {os.getloadavg()[0]:.2f} at the start (other work adds noise)")
    here = os.getcwd()
    runs: dict[str, list[float]] = {"floor": [], "ours": [], "ended": [], "submitit": []}
    try:
        if not args.e2e_only:
            bench_submission(args.n)
        for turn in range(args.repeats):
            runs["floor"].append(bench_floor(args.e2e))
            took, ended = bench_hipercow(args.e2e)
            runs["ours"].append(took)
            runs["ended"].append(ended)
            theirs = bench_submitit(args.e2e)
            if theirs is not None:
                runs["submitit"].append(theirs)
            print(
                f"   turn {turn + 1}: raw array {runs['floor'][-1]:.1f} s, hipercow-magic "
                f"{took:.1f} s (last task ended at {ended:.1f} s)"
                + (f", submitit {theirs:.1f} s" if theirs is not None else ""),
                flush=True,
            )
    finally:
        os.chdir(here)
    floor = statistics.median(runs["floor"])
    ours = statistics.median(runs["ours"])
    print(f"3. {args.e2e} trivial tasks, create -> every result back (medians of {args.repeats}):")
    print(
        f"   hipercow-magic (one array, default poll interval): {ours:.1f} s "
        f"({ours / floor:.2f} x the raw array; target <= 1.3); its last task ended at "
        f"{statistics.median(runs['ended']):.1f} s"
    )
    if runs["submitit"]:
        theirs = statistics.median(runs["submitit"])
        print(
            f"   submitit (map_array):                              {theirs:.1f} s "
            f"({theirs / floor:.2f} x the raw array)"
        )
    else:
        print("   submitit (map_array): not installed (pip install -e '.[bench]')")
    print(f"   floor: raw array of {args.e2e} `python -c pass` jobs:     {floor:.1f} s")
    print(
        "   each turn against its own raw array (Slurm starts queued jobs when its main and "
        "backfill\n   schedulers pass, each about once a second, and how far apart they pass "
        "drifts from turn to turn):"
    )
    for name in ("ours", "submitit"):
        if runs[name]:
            ratios = [t / f for t, f in zip(runs[name], runs["floor"])]
            print(
                f"   {'hipercow-magic' if name == 'ours' else 'submitit':14} median "
                f"{statistics.median(ratios):.2f} x (turns: {', '.join(f'{r:.2f}' for r in ratios)})"
            )
    bench_runner_start()
    print(f"load average {os.getloadavg()[0]:.2f} at the end")


if __name__ == "__main__":
    main()
