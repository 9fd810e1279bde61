"""What task code uses to reach its workers: `pool()` (in the style of `multiprocessing.Pool`)
and `executor()` (a `concurrent.futures.Executor`); joblib, once imported, uses them too.
"""

from __future__ import annotations

import concurrent.futures
import itertools
import threading
import time

from hipercow_magic.node.cluster import Cluster, current_cluster
from hipercow_magic.node.worker import bind_missing_globals


class AsyncResult:
    """A job's eventual result, as `multiprocessing.pool.AsyncResult`: callbacks have run
    by the time it is ready.
    """

    def __init__(self, future: concurrent.futures.Future, callback=None, error_callback=None):
        self._future = future
        self._callback = callback
        self._error_callback = error_callback
        self._ready = threading.Event()
        future.add_done_callback(self._settle)

    def _settle(self, future) -> None:
        try:
            if not future.cancelled():
                error = future.exception()
                if error is None and self._callback is not None:
                    self._callback(future.result())
                elif error is not None and self._error_callback is not None:
                    self._error_callback(error)
        finally:
            self._ready.set()

    def ready(self) -> bool:
        """Whether the job has finished (and its callbacks have run)."""
        return self._ready.is_set()

    def successful(self) -> bool:
        """Whether the job finished without an error (ValueError if it is not ready)."""
        if not self.ready():
            raise ValueError(f"{self!r} not ready")
        return not self._future.cancelled() and self._future.exception() is None

    def wait(self, timeout: float | None = None) -> None:
        """Wait until the job is ready, or `timeout` seconds have passed."""
        self._ready.wait(timeout)

    def get(self, timeout: float | None = None):
        """The result (raising the job's error); TimeoutError if not ready in `timeout` s."""
        if not self._ready.wait(timeout):
            raise TimeoutError(f"The job did not finish within {timeout} s")
        return self._future.result()


def _run_chunk(fn, chunk: list, star: bool) -> list:
    bind_missing_globals(fn)
    return [fn(*item) for item in chunk] if star else [fn(item) for item in chunk]


class Pool:
    """The task's workers with the methods of `multiprocessing.Pool`.

    The cluster belongs to the task: leaving a `with pool() as p:` block, `close()`,
    `terminate()` and `join()` leave it running; it stops when the task's code ends. The
    handle holds no state, so a task may keep it in a variable (it pickles as a handle).
    """

    @property
    def _cluster(self) -> Cluster:
        return current_cluster()

    @property
    def processes(self) -> int:
        """The number of worker processes."""
        return self._cluster.processes

    def __repr__(self) -> str:
        return (
            f"<hipercow pool: {self._cluster.processes} processes, each with "
            f"{self._cluster.cores_per_process} core(s)>"
        )

    def apply(self, func, args=(), kwds=None):
        """`func(*args, **kwds)` on a worker; waits for and returns its result."""
        return self.apply_async(func, args, kwds).get()

    def apply_async(self, func, args=(), kwds=None, callback=None, error_callback=None):
        """`func(*args, **kwds)` on a worker; an `AsyncResult` for it at once."""
        return AsyncResult(
            self._cluster.submit(func, *args, **(kwds or {})), callback, error_callback
        )

    def map(self, func, iterable, chunksize=None) -> list:
        """`[func(x) for x in iterable]`, computed by the workers in chunks."""
        return self.map_async(func, iterable, chunksize).get()

    def starmap(self, func, iterable, chunksize=None) -> list:
        """`[func(*args) for args in iterable]`, computed by the workers in chunks."""
        return self.starmap_async(func, iterable, chunksize).get()

    def map_async(self, func, iterable, chunksize=None, callback=None, error_callback=None):
        """As `map`, returning an `AsyncResult` for the whole list at once."""
        return self._map_async(func, iterable, chunksize, False, callback, error_callback)

    def starmap_async(self, func, iterable, chunksize=None, callback=None, error_callback=None):
        """As `starmap`, returning an `AsyncResult` for the whole list at once."""
        return self._map_async(func, iterable, chunksize, True, callback, error_callback)

    def imap(self, func, iterable, chunksize: int = 1):
        """Results in order, each as soon as it and those before it are done."""
        futures = self._submit_chunks(func, list(iterable), chunksize, False)
        return (value for future in futures for value in future.result())

    def imap_unordered(self, func, iterable, chunksize: int = 1):
        """Results in the order they finish."""
        futures = self._submit_chunks(func, list(iterable), chunksize, False)
        return (
            value
            for future in concurrent.futures.as_completed(futures)
            for value in future.result()
        )

    def close(self) -> None:
        """Does nothing: the cluster stops when the task's code ends."""

    terminate = join = close

    def __enter__(self) -> Pool:
        return self

    def __exit__(self, *exc) -> None:
        return None

    def _map_async(self, func, iterable, chunksize, star, callback, error_callback):
        items = list(iterable)
        if chunksize is None:
            chunksize, extra = divmod(len(items), self._cluster.processes * 4)
            chunksize += bool(extra)
        futures = self._submit_chunks(func, items, chunksize, star)
        return AsyncResult(_gather(futures), callback, error_callback)

    def _submit_chunks(self, func, items: list, chunksize: int, star: bool) -> list:
        if chunksize < 1:
            raise ValueError(f"chunksize must be at least 1, not {chunksize}")
        return [
            self._cluster.submit(_run_chunk, func, items[i : i + chunksize], star)
            for i in range(0, len(items), chunksize)
        ]


def _gather(futures: list) -> concurrent.futures.Future:
    """One future for the concatenated results of `futures` (the first error wins)."""
    combined = concurrent.futures.Future()
    combined.set_running_or_notify_cancel()
    if not futures:
        combined.set_result([])
        return combined
    remaining = [len(futures)]
    lock = threading.Lock()

    def done(future):
        with lock:
            if combined.done():
                return
            if future.cancelled() or future.exception() is not None:
                error = (
                    concurrent.futures.CancelledError()
                    if future.cancelled()
                    else future.exception()
                )
                combined.set_exception(error)
                return
            remaining[0] -= 1
            if remaining[0] == 0:
                combined.set_result(
                    list(itertools.chain.from_iterable(f.result() for f in futures))
                )

    for future in futures:
        future.add_done_callback(done)
    return combined


class ClusterExecutor(concurrent.futures.Executor):
    """A `concurrent.futures.Executor` on the task's workers.

    `shutdown()` (also at the end of a `with` block) waits for the jobs submitted through
    this executor and refuses new ones; the workers keep running until the task's code ends.
    It pickles as a new executor handle, so a task may keep it in a variable.
    """

    def __init__(self):
        self._jobs: set = set()
        self._lock = threading.Lock()
        self._shutdown = False

    def __reduce__(self):
        return (ClusterExecutor, ())

    @property
    def _cluster(self) -> Cluster:
        return current_cluster()

    @property
    def max_workers(self) -> int:
        """The number of worker processes."""
        return self._cluster.processes

    def submit(self, fn, /, *args, **kwargs) -> concurrent.futures.Future:
        """Run `fn(*args, **kwargs)` on a worker; its future."""
        with self._lock:
            if self._shutdown:
                raise RuntimeError("cannot schedule new futures after shutdown")
            future = self._cluster.submit(fn, *args, **kwargs)
            self._jobs.add(future)
        future.add_done_callback(self._forget)
        return future

    def map(self, fn, *iterables, timeout: float | None = None, chunksize: int = 1):
        """Like `Executor.map`; `chunksize` items go to a worker at a time."""
        if chunksize < 1:
            raise ValueError(f"chunksize must be at least 1, not {chunksize}")
        items = list(zip(*iterables))
        futures = [
            self.submit(_run_chunk, fn, items[i : i + chunksize], True)
            for i in range(0, len(items), chunksize)
        ]
        deadline = None if timeout is None else time.monotonic() + timeout

        def results():
            try:
                for future in futures:
                    left = None if deadline is None else deadline - time.monotonic()
                    yield from future.result(left)
            finally:
                for future in futures:
                    future.cancel()

        return results()

    def _forget(self, future) -> None:
        with self._lock:
            self._jobs.discard(future)

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        """Refuse new jobs; with `wait`, wait for this executor's jobs (the workers stay)."""
        with self._lock:
            self._shutdown = True
            jobs = list(self._jobs)
        if cancel_futures:
            for future in jobs:
                future.cancel()
        if wait:
            concurrent.futures.wait(jobs)


def pool() -> Pool:
    """The task's worker processes as a `multiprocessing.Pool`-style pool
    (map, starmap, imap, imap_unordered, apply, apply_async, map_async).
    """
    current_cluster()
    return Pool()


def executor() -> ClusterExecutor:
    """The task's worker processes as a `concurrent.futures.Executor`."""
    current_cluster()
    return ClusterExecutor()
