"""The worker processes of a task run with a parallel method, and the ways task code uses them.

Before the task's code runs, the runner forks `cores // cores_per_process` workers; each gets
its own cores variables, thread-pool limits and CPU subset. Work is shipped to them with
cloudpickle, so functions, lambdas and classes defined in a notebook (module `__main__`) run
there. Task code reaches the workers through `pool()` (in the style of `multiprocessing.Pool`)
or `executor()` (a `concurrent.futures.Executor`); joblib, once imported, uses them too.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import ctypes
import io
import itertools
import os
import pickle
import select
import signal
import sys
import threading
import time
import traceback
import types
from collections import deque
from concurrent.futures.process import BrokenProcessPool
from multiprocessing import connection

import cloudpickle

from .errors import HipercowError
from .parallel import hipercow_parallel_set_cores

READY = b"ready"
STOP = b""
STOP_GRACE = 2.0  # seconds an idle worker gets to exit before it is killed
PR_SET_PDEATHSIG = 1

_cluster: "Cluster | None" = None
_worker_namespace: dict = {}  # in a worker: the names its environment defines


class RemoteTraceback(Exception):
    """The traceback of an error raised in a worker, attached as the error's cause."""

    def __init__(self, text: str):
        super().__init__(text)
        self.text = text

    def __str__(self) -> str:
        return f'\n"""\n{self.text}"""'


class _Worker:
    def __init__(self, index: int, pid: int, conn):
        self.index = index
        self.pid = pid
        self.conn = conn
        self.job: concurrent.futures.Future | None = None
        self.alive = True


class Cluster:
    """A fixed set of forked worker processes and the jobs queued for them."""

    def __init__(self, processes: int, cores_per_process: int, namespace: dict,
                 setup=None):
        self.processes = processes
        self.cores_per_process = cores_per_process
        self._namespace = namespace
        self._setup = setup
        self._workers: list[_Worker] = []
        self._pending: deque = deque()
        self._lock = threading.Lock()
        self._broken: str | None = None
        self._stopping = False
        self._thread: threading.Thread | None = None
        self._wake_r = self._wake_w = -1

    # ---- start ------------------------------------------------------------------
    def start(self) -> None:
        """Fork every worker (before any thread of ours exists), then wait until all are ready."""
        slices = _cpu_slices(self.processes, self.cores_per_process)
        sys.stdout.flush()
        sys.stderr.flush()
        try:
            for index in range(self.processes):
                self._fork_worker(index, slices[index])
            problems = [self._ready_or_problem(worker) for worker in self._workers]
        except BaseException:
            self._kill_all()
            raise
        problems = [p for p in problems if p]
        if problems:
            self._kill_all()
            raise HipercowError("Starting the parallel cluster failed:\n" + "\n".join(problems))
        self._wake_r, self._wake_w = os.pipe()
        self._thread = threading.Thread(target=self._serve, name="hipercow-cluster",
                                        daemon=True)
        self._thread.start()

    def _fork_worker(self, index: int, cpus: set[int] | None) -> None:
        parent_end, child_end = connection.Pipe()
        pid = os.fork()
        if pid == 0:
            try:
                parent_end.close()
                for worker in self._workers:
                    worker.conn.close()
                _worker_process(child_end, os.getppid(), self.cores_per_process, cpus,
                                self._namespace, self._setup)
            finally:
                os._exit(1)
        child_end.close()
        self._workers.append(_Worker(index, pid, parent_end))

    @staticmethod
    def _ready_or_problem(worker: _Worker) -> str | None:
        try:
            message = worker.conn.recv_bytes()
        except (EOFError, OSError):
            return f"worker {worker.index + 1} exited while starting"
        return None if message == READY else message.decode(errors="replace")

    # ---- jobs -------------------------------------------------------------------
    def submit(self, fn, /, *args, **kwargs) -> concurrent.futures.Future:
        """Run `fn(*args, **kwargs)` on a free worker (or once one is free)."""
        payload = cloudpickle.dumps((fn, args, kwargs))
        future = concurrent.futures.Future()
        with self._lock:
            if self._broken:
                raise BrokenProcessPool(self._broken)
            if self._stopping:
                raise RuntimeError("The task's parallel cluster has stopped")
            self._pending.append((future, payload))
            self._dispatch()
        return future

    def _dispatch(self) -> None:
        """Give queued jobs to idle workers (called with the lock held)."""
        for worker in self._workers:
            while worker.alive and worker.job is None and self._pending:
                future, payload = self._pending.popleft()
                if not future.set_running_or_notify_cancel():
                    continue
                worker.job = future
                try:
                    worker.conn.send_bytes(payload)
                except OSError:
                    pass  # the worker died: its end of file reaches _serve, which fails the job

    def _serve(self) -> None:
        """Collect results and notice dead workers, until the cluster stops."""
        while True:
            with self._lock:
                conns = {w.conn: w for w in self._workers if w.alive}
            ready = connection.wait([*conns, self._wake_r])
            if self._wake_r in ready:
                return
            for conn in ready:
                worker = conns[conn]
                try:
                    message = conn.recv_bytes()
                except (EOFError, OSError):
                    self._worker_died(worker)
                    continue
                with self._lock:
                    future, worker.job = worker.job, None
                    self._dispatch()
                if future is not None:
                    _settle(future, message)

    def _worker_died(self, worker: _Worker) -> None:
        code = _reap(worker.pid)
        reason = (f"A worker process of the task's parallel cluster stopped unexpectedly "
                  f"({_describe_exit(code)}); the cluster can't run more jobs")
        with self._lock:
            worker.alive = False
            self._broken = reason
            running, worker.job = worker.job, None
            queued = [future for future, _ in self._pending]
            self._pending.clear()
        if running is not None:
            running.set_exception(BrokenProcessPool(reason))
        for future in queued:
            if future.set_running_or_notify_cancel():
                future.set_exception(BrokenProcessPool(reason))

    # ---- stop -------------------------------------------------------------------
    def stop(self) -> None:
        """Cancel queued jobs, kill busy workers, let idle ones exit, leave no process behind."""
        with self._lock:
            self._stopping = True
            queued = [future for future, _ in self._pending]
            self._pending.clear()
        for future in queued:
            future.cancel()
        if self._thread is not None:
            os.write(self._wake_w, b"x")
            self._thread.join()
            os.close(self._wake_r)
            os.close(self._wake_w)
        descendants = _descendants([w.pid for w in self._workers if w.alive])
        for worker in self._workers:
            if not worker.alive:
                continue
            if worker.job is None:
                with contextlib.suppress(OSError):
                    worker.conn.send_bytes(STOP)
            else:
                _kill(worker.pid)
                if not worker.job.done():
                    worker.job.set_exception(
                        RuntimeError("The task's parallel cluster stopped before this job ended"))
        deadline = time.monotonic() + STOP_GRACE
        for worker in self._workers:
            if worker.alive and not _wait_exit(worker.pid, deadline):
                _kill(worker.pid)
                _reap(worker.pid)
            worker.alive = False
            worker.conn.close()
        for process in descendants:
            with contextlib.suppress(Exception):
                process.kill()

    def _kill_all(self) -> None:
        for worker in self._workers:
            if not worker.alive:
                continue
            _kill(worker.pid)
            _reap(worker.pid)
            worker.alive = False
            worker.conn.close()


# ---- the worker side --------------------------------------------------------------
def _worker_process(conn, parent: int, cores: int, cpus, namespace: dict, setup) -> None:
    """A worker's whole life: set up, then run jobs until told to stop. Never returns."""
    global _worker_namespace
    _worker_namespace = namespace
    code = 0
    try:
        _die_with_parent(parent)
        if cpus:
            os.sched_setaffinity(0, cpus)
        hipercow_parallel_set_cores(cores)
        try:
            if setup is not None:
                with contextlib.redirect_stdout(io.StringIO()):
                    setup(namespace)
        except BaseException:
            conn.send_bytes(f"worker {os.getpid()}: {traceback.format_exc()}".encode())
            raise
        conn.send_bytes(READY)
        _run_jobs(conn)
    except BaseException:
        code = 1
    finally:
        try:
            sys.stdout.flush()
            sys.stderr.flush()
        finally:
            os._exit(code)


def _run_jobs(conn) -> None:
    while True:
        try:
            payload = conn.recv_bytes()
        except EOFError:
            return
        if payload == STOP:
            return
        try:
            fn, args, kwargs = pickle.loads(payload)
            _bind_missing_globals(fn)
            reply = (True, fn(*args, **kwargs))
        except BaseException as error:  # the job's failure goes back to the caller
            reply = (False, error, _job_traceback(error))
        sys.stdout.flush()
        sys.stderr.flush()
        conn.send_bytes(_dumps_reply(reply))


def _job_traceback(error: BaseException) -> str:
    """The traceback from the job's own code on (without this module's frames)."""
    tb = error.__traceback__
    while tb is not None and tb.tb_frame.f_code.co_filename == __file__:
        tb = tb.tb_next
    return "".join(traceback.format_exception(type(error), error, tb))


def _dumps_reply(reply: tuple) -> bytes:
    try:
        return cloudpickle.dumps(reply)
    except Exception as error:
        if reply[0]:
            problem = f"The job's result could not be sent back: {type(error).__name__}: {error}"
            return cloudpickle.dumps((False, RuntimeError(problem), traceback.format_exc()))
        original = reply[1]
        return cloudpickle.dumps(
            (False, RuntimeError(f"{type(original).__name__}: {original}"), reply[2]))


def _bind_missing_globals(fn) -> None:
    """Let a shipped function see names its worker's environment defines (as R workers do)."""
    if isinstance(fn, types.FunctionType) and fn.__module__ == "__main__":
        for name in fn.__code__.co_names:
            if name not in fn.__globals__ and name in _worker_namespace:
                fn.__globals__[name] = _worker_namespace[name]


def _die_with_parent(parent: int) -> None:
    """Have the kernel kill this worker if the task's process dies (Linux)."""
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    if os.getppid() != parent:
        os._exit(1)


# ---- helpers ------------------------------------------------------------------------
def _cpu_slices(processes: int, cores_per_process: int) -> list:
    """Each worker's CPUs: disjoint slices of this process's CPUs when there are enough."""
    try:
        cpus = sorted(os.sched_getaffinity(0))
    except AttributeError:
        cpus = []
    if len(cpus) < processes * cores_per_process:
        return [None] * processes
    return [set(cpus[i * cores_per_process:(i + 1) * cores_per_process])
            for i in range(processes)]


def _settle(future: concurrent.futures.Future, message: bytes) -> None:
    try:
        reply = pickle.loads(message)
    except Exception as error:
        future.set_exception(RuntimeError(f"The job's result could not be read: {error}"))
        return
    if reply[0]:
        future.set_result(reply[1])
    else:
        error = reply[1]
        error.__cause__ = RemoteTraceback(reply[2])
        future.set_exception(error)


def _descendants(pids: list[int]) -> list:
    """The processes the workers started (to kill any a worker leaves behind)."""
    import psutil

    found = []
    for pid in _child_pids(pids):
        with contextlib.suppress(psutil.Error):
            process = psutil.Process(pid)
            found += [process, *process.children(recursive=True)]
    return found


def _child_pids(pids: list[int]) -> list[int]:
    """Direct children of `pids`, from /proc/<pid>/task/*/children (psutil where missing)."""
    children = []
    for pid in pids:
        try:
            for task in os.listdir(f"/proc/{pid}/task"):
                with open(f"/proc/{pid}/task/{task}/children") as f:
                    children += [int(c) for c in f.read().split()]
        except FileNotFoundError:
            import psutil

            with contextlib.suppress(psutil.Error):
                children += [c.pid for c in psutil.Process(pid).children()]
    return children


def _kill(pid: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGKILL)


def _reap(pid: int) -> int | None:
    try:
        _, status = os.waitpid(pid, 0)
    except ChildProcessError:
        return None
    return os.waitstatus_to_exitcode(status)


def _wait_exit(pid: int, deadline: float) -> bool:
    """Reap the child if it exits before `deadline` (monotonic); False if it is still running."""
    try:
        fd = os.pidfd_open(pid)
    except (ProcessLookupError, AttributeError, OSError):
        fd = None
    try:
        while True:
            try:
                done, _ = os.waitpid(pid, os.WNOHANG)
            except ChildProcessError:
                return True
            remaining = deadline - time.monotonic()
            if done:
                return True
            if remaining <= 0:
                return False
            if fd is not None:
                select.select([fd], [], [], remaining)
            else:
                time.sleep(min(remaining, 0.002))
    finally:
        if fd is not None:
            os.close(fd)


def _describe_exit(code: int | None) -> str:
    if code is None:
        return "exit status unknown"
    if code < 0:
        try:
            return f"killed by {signal.Signals(-code).name}"
        except ValueError:
            return f"killed by signal {-code}"
    return f"exit code {code}"


@contextlib.contextmanager
def running_cluster(processes: int, cores_per_process: int, namespace: dict, setup=None):
    """Start the task's workers, make them the default for pool(), executor() and joblib,
    and stop them when the task's code ends, however it ends."""
    global _cluster
    print(f"Creating a parallel cluster with {processes} processes, each with "
          f"{cores_per_process} core(s)")
    cluster = Cluster(processes, cores_per_process, namespace, setup)
    cluster.start()
    _cluster = cluster
    from . import joblib_backend

    joblib_backend.install(cluster)
    print("Cluster ready to use", flush=True)
    try:
        yield cluster
    finally:
        print("Stopping cluster", flush=True)
        joblib_backend.uninstall()
        _cluster = None
        cluster.stop()
        print("Cluster stopped", flush=True)


def _current() -> Cluster:
    if _cluster is None:
        raise HipercowError(
            "There is no parallel cluster in this process\n"
            "pool() and executor() work inside a task created with "
            "parallel=hipercow_parallel('parallel') (or 'future') and at least 2 cores."
        )
    return _cluster


# ---- what task code uses --------------------------------------------------------------
class AsyncResult:
    """A job's eventual result, as `multiprocessing.pool.AsyncResult`: callbacks have run
    by the time it is ready."""

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
        return self._ready.is_set()

    def successful(self) -> bool:
        if not self.ready():
            raise ValueError(f"{self!r} not ready")
        return not self._future.cancelled() and self._future.exception() is None

    def wait(self, timeout: float | None = None) -> None:
        self._ready.wait(timeout)

    def get(self, timeout: float | None = None):
        """The result (raising the job's error); TimeoutError if not ready in `timeout` s."""
        if not self._ready.wait(timeout):
            raise TimeoutError(f"The job did not finish within {timeout} s")
        return self._future.result()


def _run_chunk(fn, chunk: list, star: bool) -> list:
    _bind_missing_globals(fn)
    return [fn(*item) for item in chunk] if star else [fn(item) for item in chunk]


class Pool:
    """The task's workers with the methods of `multiprocessing.Pool`.

    The cluster belongs to the task: leaving a `with pool() as p:` block, `close()`,
    `terminate()` and `join()` leave it running; it stops when the task's code ends. The
    handle holds no state, so a task may keep it in a variable (it pickles as a handle)."""

    @property
    def _cluster(self) -> Cluster:
        return _current()

    @property
    def processes(self) -> int:
        return self._cluster.processes

    def __repr__(self) -> str:
        return (f"<hipercow pool: {self._cluster.processes} processes, each with "
                f"{self._cluster.cores_per_process} core(s)>")

    def apply(self, func, args=(), kwds=None):
        return self.apply_async(func, args, kwds).get()

    def apply_async(self, func, args=(), kwds=None, callback=None, error_callback=None):
        return AsyncResult(self._cluster.submit(func, *args, **(kwds or {})),
                           callback, error_callback)

    def map(self, func, iterable, chunksize=None) -> list:
        return self.map_async(func, iterable, chunksize).get()

    def starmap(self, func, iterable, chunksize=None) -> list:
        return self.starmap_async(func, iterable, chunksize).get()

    def map_async(self, func, iterable, chunksize=None, callback=None, error_callback=None):
        return self._map_async(func, iterable, chunksize, False, callback, error_callback)

    def starmap_async(self, func, iterable, chunksize=None, callback=None,
                      error_callback=None):
        return self._map_async(func, iterable, chunksize, True, callback, error_callback)

    def imap(self, func, iterable, chunksize: int = 1):
        """Results in order, each as soon as it and those before it are done."""
        futures = self._submit_chunks(func, list(iterable), chunksize, False)
        return (value for future in futures for value in future.result())

    def imap_unordered(self, func, iterable, chunksize: int = 1):
        """Results in the order they finish."""
        futures = self._submit_chunks(func, list(iterable), chunksize, False)
        return (value for future in concurrent.futures.as_completed(futures)
                for value in future.result())

    def close(self) -> None:
        """Does nothing: the cluster stops when the task's code ends."""

    terminate = join = close

    def __enter__(self) -> "Pool":
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
        return [self._cluster.submit(_run_chunk, func, items[i:i + chunksize], star)
                for i in range(0, len(items), chunksize)]


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
                error = (concurrent.futures.CancelledError() if future.cancelled()
                         else future.exception())
                combined.set_exception(error)
                return
            remaining[0] -= 1
            if remaining[0] == 0:
                combined.set_result(list(itertools.chain.from_iterable(
                    f.result() for f in futures)))

    for future in futures:
        future.add_done_callback(done)
    return combined


class ClusterExecutor(concurrent.futures.Executor):
    """A `concurrent.futures.Executor` on the task's workers.

    `shutdown()` (also at the end of a `with` block) waits for the jobs submitted through
    this executor and refuses new ones; the workers keep running until the task's code ends.
    It pickles as a new executor handle, so a task may keep it in a variable."""

    def __init__(self):
        self._jobs: set = set()
        self._lock = threading.Lock()
        self._shutdown = False

    def __reduce__(self):
        return (ClusterExecutor, ())

    @property
    def _cluster(self) -> Cluster:
        return _current()

    @property
    def max_workers(self) -> int:
        return self._cluster.processes

    def submit(self, fn, /, *args, **kwargs) -> concurrent.futures.Future:
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
        futures = [self.submit(_run_chunk, fn, items[i:i + chunksize], True)
                   for i in range(0, len(items), chunksize)]
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
    (map, starmap, imap, imap_unordered, apply, apply_async, map_async)."""
    _current()
    return Pool()


def executor() -> ClusterExecutor:
    """The task's worker processes as a `concurrent.futures.Executor`."""
    _current()
    return ClusterExecutor()
