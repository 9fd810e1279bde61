"""Speed of reusing an unchanged cell, with the floors measured in the same run.

1. Unchanged cell to its values: a cell whose task succeeded, run again unchanged with
   `task_create_expr(..., reuse=True)` on the local driver; milliseconds from the call to its
   values (1 MB, 10 MB and 100 MB numpy arrays it set) being in a namespace, in stages: the
   call (fingerprint, lookup: nothing created or submitted) and loading the values. In a
   real IPython shell with the magic too, when `%%hipercow` passes reuse: from the cell
   starting to the values set before the next cell (for the cell without its final
   expression too, whose display has no value to load). Floors: loading the exports of a known
   task (`task_exports`), and reading its files' bytes. Target: under 1 s.
2. The key of a cell capturing a 100 MB numpy array: milliseconds to fingerprint it. Floors:
   SHA-256 over the array's 100 MB (`hashlib`), and cloudpickle's pickling of it (which
   creating the task pays anyway).

Usage: python benchmarks/bench_reuse.py [--repeats N] [--sizes 1,10,100]
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import os
import statistics
import tempfile
import time

import cloudpickle
import numpy as np
from bench_magic import _stop_scheduler

MB = 1_000_000


def _ms(values: list[float]) -> str:
    return f"{statistics.median(values) * 1000:8.1f} ms"


def _cell(size: int) -> str:
    return f"import numpy\nvalues = numpy.full({size * MB // 8}, scale)\nvalues.nbytes"


def bench_unchanged_cell(sizes: list[int], repeats: int) -> None:
    import hipercow_magic as hc

    print("1. an unchanged cell to its values in the namespace (median of", repeats, "runs)")
    print(
        f"   {'result':>8}  {'call':>11}  {'values':>11}  {'total':>11}  │  floors:"
        f" {'task_exports':>12}  {'read files':>11}"
    )
    root = hc.hipercow_root()
    ns = {"scale": 0.5}
    for size in sizes:
        first = hc.task_create_expr(_cell(size), namespace=ns, reuse=True)
        assert first.wait(timeout=300), first.log()
        calls, loads, totals, floors, reads = [], [], [], [], []
        for _ in range(repeats):
            namespace: dict = {}
            start = time.perf_counter()
            task = hc.task_create_expr(_cell(size), namespace=ns, reuse=True)
            called = time.perf_counter()
            namespace.update(task.exports())
            done = time.perf_counter()
            assert task.reused and task.id == first.id and namespace["values"].nbytes == size * MB
            calls.append(called - start)
            loads.append(done - called)
            totals.append(done - start)
            start = time.perf_counter()
            hc.task_exports(first.id)
            floors.append(time.perf_counter() - start)
            folder = root.task_dir(first.id)
            start = time.perf_counter()
            for name in os.listdir(folder):
                path = os.path.join(folder, name)
                if os.path.isfile(path):
                    with open(path, "rb") as f:
                        f.read()
            reads.append(time.perf_counter() - start)
        print(
            f"   {size:>5} MB  {_ms(calls)}  {_ms(loads)}  {_ms(totals)}  │  "
            f"       {_ms(floors)}  {_ms(reads)}"
        )
    if len(hc.task_list()) != len(sizes):
        raise AssertionError("a reused cell created a task")


def bench_magic(sizes: list[int], repeats: int) -> None:
    import inspect

    from IPython.testing.globalipapp import start_ipython

    from hipercow_magic.magics.magics import HipercowMagics

    if "reuse=" not in inspect.getsource(HipercowMagics.hipercow_cell):
        print("   (the magic: %%hipercow does not pass reuse= yet; not measured)")
        return
    ip = start_ipython()
    ip.run_line_magic("load_ext", "hipercow_magic")
    ip.user_ns["scale"] = 0.5
    print(
        "   in an IPython shell, %%hipercow cell to its values set before the next cell "
        "(the cell ending in an expression: its value loaded too):"
    )
    for size in sizes:
        row = []
        for shown in (False, True):
            code = _cell(size) if shown else _cell(size).rsplit("\n", 1)[0]
            with open(os.devnull, "w") as devnull, contextlib.redirect_stdout(devnull):
                ip.run_cell(f"%%hipercow --wait\n{code}")  # its first run
            times = []
            for _ in range(repeats):
                ip.user_ns.pop("values", None)
                with open(os.devnull, "w") as devnull, contextlib.redirect_stdout(devnull):
                    start = time.perf_counter()
                    ip.run_cell(f"%%hipercow -o h\n{code}")
                    ip.run_cell("values.nbytes")  # its pre-run hook sets the values first
                    times.append(time.perf_counter() - start)
                assert ip.user_ns["h"].reused and ip.user_ns["values"].nbytes == size * MB
            row.append(_ms(times))
        print(f"   {size:>5} MB  {row[0]}  (with the expression: {row[1]})")


def bench_key(repeats: int) -> None:
    import hipercow_magic as hc
    from hipercow_magic.engine.create import Plan
    from hipercow_magic.engine.reuse import cell_fingerprint

    array = np.random.default_rng(1).random(100 * MB // 8)
    ns = {"data": array}
    code = "summary = data.mean()"
    plan = Plan(hc.hipercow_root(), None, None, None, None, "default")
    keys, hashes, pickles = [], [], []
    for _ in range(repeats):
        start = time.perf_counter()
        cell_fingerprint(plan, code, ns, None).key()
        keys.append(time.perf_counter() - start)
        start = time.perf_counter()
        hashlib.sha256(memoryview(array).cast("B")).hexdigest()
        hashes.append(time.perf_counter() - start)
        start = time.perf_counter()
        cloudpickle.dumps(array, protocol=5)
        pickles.append(time.perf_counter() - start)
    print(f"2. the key of a cell capturing a 100 MB numpy array (median of {repeats} runs)")
    print(
        f"   fingerprint {_ms(keys)}  │  floors: sha256 over 100 MB {_ms(hashes)}, "
        f"cloudpickle.dumps {_ms(pickles)}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--sizes", default="1,10,100", help="result sizes in MB")
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    import hipercow_magic as hc

    here = os.getcwd()
    with tempfile.TemporaryDirectory() as folder:
        os.chdir(folder)
        os.environ.setdefault("HIPERCOW_KEY_FILE", os.path.join(folder, "key"))
        with contextlib.redirect_stdout(open(os.devnull, "w")):  # noqa: SIM115
            hc.hipercow_init(".", driver="local")
        try:
            bench_unchanged_cell(sizes, args.repeats)
            bench_magic(sizes, args.repeats)
            bench_key(args.repeats)
        finally:
            _stop_scheduler(hc.hipercow_root())
            os.chdir(here)  # IPython's exit looks at the working directory


if __name__ == "__main__":
    main()
