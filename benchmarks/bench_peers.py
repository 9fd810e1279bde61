"""hipercow-magic (local driver) beside its peers on the same work, in one run:

  a. one trivial task (a function returning 1), submit -> result in hand: median;
  b. N trivial tasks (functions returning their argument, N = 1,000): submitted together,
     tasks/s until every result is in hand;
  c. two `time.sleep(5)` side by side (one core each): wall - 5 s.

Peers: dask.distributed LocalCluster (2 worker processes, warm), ipyparallel (2 engines, warm),
submitit's LocalExecutor and concurrent.futures.ProcessPoolExecutor (2 workers, warm: the floor
for "another process"). Floors of the same run: fork+waitpid; write 1 KB to a temp file and
rename it. A peer that is not installed is skipped with a note (pip install -e '.[bench]').
The systems run one after another, each stopped before the next starts.

    python benchmarks/bench_peers.py [--quick] [--only hipercow,dask,...] [--tasks N]

--quick: 20 single tasks, 200 tasks for b (submitit: 20), one run of b and c: about 2 minutes.
submitit's LocalExecutor starts a process per job at once, so its b runs --submitit-tasks.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import logging
import os
import shutil
import statistics
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import hipercow_magic as hc  # noqa: E402

TIMEOUT = 600


def one():
    return 1


def identity(x):
    return x


class Hipercow:
    name = "hipercow-magic, local driver"
    key = "hipercow"

    def start(self):
        self.folder = tempfile.mkdtemp(prefix="bench-peers-hipercow-")
        os.chdir(self.folder)
        with contextlib.redirect_stdout(io.StringIO()):
            hc.hipercow_init(self.folder, driver="local", idle_timeout=60)
        self.one()  # the scheduler started and warm

    def one(self):
        task = hc.task_create_call(one)
        task.wait(timeout=TIMEOUT)
        return task.result()

    def many(self, n):
        bundle = hc.task_create_bulk_call(identity, list(range(n)))
        bundle.wait(timeout=TIMEOUT)
        return bundle.result()

    def sleeps(self, seconds):
        tasks = [hc.task_create_call(time.sleep, [seconds]) for _ in range(2)]
        for task in tasks:
            task.wait(timeout=TIMEOUT)
        return [task.result() for task in tasks]

    def stop(self):
        os.chdir(os.path.dirname(self.folder))


class Dask:
    name = "dask.distributed LocalCluster"
    key = "dask"

    def start(self):
        from distributed import Client, LocalCluster

        self.cluster = LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
        )
        self.client = Client(self.cluster)
        self.many(4)

    def one(self):
        return self.client.submit(one, pure=False).result()

    def many(self, n):
        return self.client.gather(self.client.map(identity, range(n), pure=False))

    def sleeps(self, seconds):
        futures = [self.client.submit(time.sleep, seconds, pure=False) for _ in range(2)]
        return self.client.gather(futures)

    def stop(self):
        self.client.close()
        self.cluster.close()


class IPyParallel:
    name = "ipyparallel (2 engines)"
    key = "ipyparallel"

    def start(self):
        import ipyparallel

        self.cluster = ipyparallel.Cluster(n=2, log_level=logging.ERROR)
        self.client = self.cluster.start_and_connect_sync()
        self.view = self.client.load_balanced_view()
        self.many(4)

    def one(self):
        return self.view.apply_async(one).get(timeout=TIMEOUT)

    def many(self, n):
        return list(self.view.map_async(identity, range(n)).get(timeout=TIMEOUT))

    def sleeps(self, seconds):
        pending = [self.view.apply_async(time.sleep, seconds) for _ in range(2)]
        return [p.get(timeout=TIMEOUT) for p in pending]

    def stop(self):
        self.client.close()
        self.cluster.stop_cluster_sync()


class Submitit:
    name = "submitit LocalExecutor"
    key = "submitit"

    def start(self):
        import submitit

        self.folder = tempfile.mkdtemp(prefix="bench-peers-submitit-")
        self.executor = submitit.LocalExecutor(folder=self.folder)
        self.executor.update_parameters(timeout_min=10)

    def one(self):
        return self.executor.submit(one).result()

    def many(self, n):
        return [job.result() for job in self.executor.map_array(identity, range(n))]

    def sleeps(self, seconds):
        jobs = [self.executor.submit(time.sleep, seconds) for _ in range(2)]
        return [job.result() for job in jobs]

    def stop(self):
        shutil.rmtree(self.folder, ignore_errors=True)


class ProcessPool:
    name = "ProcessPoolExecutor (2 workers)"
    key = "processpool"

    def start(self):
        self.executor = ProcessPoolExecutor(max_workers=2)
        self.many(4)

    def one(self):
        return self.executor.submit(one).result()

    def many(self, n):
        futures = [self.executor.submit(identity, i) for i in range(n)]
        return [f.result() for f in futures]

    def sleeps(self, seconds):
        futures = [self.executor.submit(time.sleep, seconds) for _ in range(2)]
        return [f.result() for f in futures]

    def stop(self):
        self.executor.shutdown()


SYSTEMS = [Hipercow, Dask, IPyParallel, Submitit, ProcessPool]
MODULES = {"dask": "distributed", "ipyparallel": "ipyparallel", "submitit": "submitit"}


def median_seconds(action, n: int) -> float:
    """Median wall time of `action()` over n calls."""
    times = []
    for _ in range(n):
        t0 = time.perf_counter()
        action()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def fork_and_wait() -> None:
    pid = os.fork()
    if pid == 0:
        os._exit(0)
    os.waitpid(pid, 0)


def floor_write_rename(n: int = 2000) -> float:
    folder = tempfile.mkdtemp(prefix="bench-peers-floor-")
    target = os.path.join(folder, "f")

    def write_rename():
        fd, tmp = tempfile.mkstemp(dir=folder)
        os.write(fd, b"x" * 1024)
        os.close(fd)
        os.replace(tmp, target)

    floor = median_seconds(write_rename, n)
    shutil.rmtree(folder)
    return floor


def measure(system, args) -> dict:
    """The three figures of one system: a (s, median), b (tasks/s, median), c (s, median)."""
    results = []
    a = median_seconds(lambda: results.append(system.one()), args.singles)
    assert results == [1] * args.singles
    print(f"   a. one task: {a * 1000:.2f} ms median of {args.singles}", flush=True)
    n = args.submitit_tasks if system.key == "submitit" else args.tasks
    checks = []
    b = n / median_seconds(lambda: checks.append(system.many(n) == list(range(n))), args.repeats)
    assert all(checks)
    print(f"   b. {n} tasks: {b:.1f} tasks/s (median of {args.repeats})", flush=True)
    c = median_seconds(lambda: system.sleeps(args.sleep), args.repeats) - args.sleep
    print(
        f"   c. 2 x sleep({args.sleep:g}): wall - {args.sleep:g} s = {c * 1000:.1f} ms", flush=True
    )
    return {"a": a, "b": b, "c": c, "n": n}


def run(cls, args) -> dict | None:
    module = MODULES.get(cls.key)
    if module:
        try:
            __import__(module)
        except ImportError:
            print(f"-- {cls.name}: not installed, skipped (pip install -e '.[bench]')")
            return None
    print(f"-- {cls.name}", flush=True)
    system = cls()
    try:
        system.start()
        return measure(system, args)
    except Exception as e:  # a peer that fails here is reported, the others still run
        print(f"   failed: {type(e).__name__}: {e}")
        return None
    finally:
        with contextlib.suppress(Exception):
            system.stop()


def report(figures: dict, fork: float, write: float, args) -> None:
    print()
    c_title = f"c. wall - {args.sleep:g} s"
    print(f"{'':34} {'a. one task':>12} {'b. tasks/s':>12} {c_title:>14}")
    for cls in SYSTEMS:
        f = figures.get(cls.key)
        if f:
            b = f"{f['b']:.0f}" + ("" if f["n"] == args.tasks else f" (n={f['n']})")
            print(f"{cls.name:34} {f['a'] * 1000:9.2f} ms {b:>12} {f['c'] * 1000:11.1f} ms")
    print(
        f"floors: fork+waitpid {fork * 1000:.2f} ms; write 1 KB to a temp file and rename "
        f"{write * 1000:.3f} ms"
    )
    ours = figures.get("hipercow")
    if not ours:
        return
    print("hipercow-magic against each (a, c: its time over theirs; b: its rate over theirs):")
    print(f"  {'fork+waitpid':32} a {ours['a'] / fork:7.3g}x")
    for cls in SYSTEMS[1:]:
        f = figures.get(cls.key)
        if f:
            c = f"{ours['c'] / f['c']:7.3g}x" if f["c"] > 0 else "      -"
            print(
                f"  {cls.name:32} a {ours['a'] / f['a']:7.3g}x   b {ours['b'] / f['b']:7.3g}x"
                f"   c {c}"
            )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a run of about 2 minutes")
    parser.add_argument(
        "--only", help="systems to run, by key: " + ",".join(s.key for s in SYSTEMS)
    )
    parser.add_argument("--tasks", type=int, help="tasks in b (default 1000; quick 200)")
    parser.add_argument("--submitit-tasks", type=int, help="submitit's tasks in b (100; quick 20)")
    parser.add_argument("--singles", type=int, help="single tasks in a (default 50; quick 20)")
    parser.add_argument("--repeats", type=int, help="runs of b and c (default 3; quick 1)")
    parser.add_argument("--sleep", type=float, default=5.0, help="seconds each sleep in c")
    args = parser.parse_args()
    quick = args.quick
    args.tasks = args.tasks or (200 if quick else 1000)
    args.submitit_tasks = args.submitit_tasks or (20 if quick else 100)
    args.singles = args.singles or (20 if quick else 50)
    args.repeats = args.repeats or (1 if quick else 3)
    chosen = set(args.only.split(",")) if args.only else {s.key for s in SYSTEMS}
    print(
        f"{os.cpu_count()} CPUs; load average {os.getloadavg()[0]:.2f} at the start "
        "(other work on the machine makes every figure noisier)"
    )
    fork, write = median_seconds(fork_and_wait, 200), floor_write_rename()
    print(
        f"floors: fork+waitpid {fork * 1000:.2f} ms; 1 KB temp write + rename {write * 1000:.3f} ms"
    )
    figures = {}
    for cls in SYSTEMS:
        if cls.key in chosen:
            figures[cls.key] = run(cls, args)
    print(f"load average {os.getloadavg()[0]:.2f} at the end")
    report(figures, fork, write, args)


if __name__ == "__main__":
    main()
