"""A task's parallel cluster: worker processes forked on its cores, and the jobs queued for them.

Before the task's code runs, the runner forks `cores // cores_per_process` workers; each gets
its own cores variables, thread-pool limits and CPU subset. Jobs are shipped with cloudpickle,
so functions, lambdas and classes defined in a notebook (module `__main__`) run there.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import ctypes
import io
import os
import pickle
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

from hipercow_magic.core.errors import HipercowError
from hipercow_magic.core.procs import descendants, describe_exit, kill, reap, wait_exit
from hipercow_magic.node import joblib_backend
from hipercow_magic.node.cores import cluster_shape, hipercow_parallel_set_cores, set_task_cores
from hipercow_magic.node.environment import load_environment

READY = b"ready"


STOP = b""


STOP_GRACE = 2.0  # seconds an idle worker gets to exit before it is killed


PR_SET_PDEATHSIG = 1


_cluster: Cluster | None = None


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

    def __init__(self, processes: int, cores_per_process: int, namespace: dict, setup=None):
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
        self._thread = threading.Thread(target=self._serve, name="hipercow-cluster", daemon=True)
        self._thread.start()

    def _fork_worker(self, index: int, cpus: set[int] | None) -> None:
        parent_end, child_end = connection.Pipe()
        pid = os.fork()
        if pid == 0:
            try:
                parent_end.close()
                for worker in self._workers:
                    worker.conn.close()
                _worker_process(
                    child_end,
                    os.getppid(),
                    self.cores_per_process,
                    cpus,
                    self._namespace,
                    self._setup,
                )
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
        code = reap(worker.pid)
        reason = (
            f"A worker process of the task's parallel cluster stopped unexpectedly "
            f"({describe_exit(code)}); the cluster can't run more jobs"
        )
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
        leftovers = descendants([w.pid for w in self._workers if w.alive])
        for worker in self._workers:
            if not worker.alive:
                continue
            if worker.job is None:
                with contextlib.suppress(OSError):
                    worker.conn.send_bytes(STOP)
            else:
                kill(worker.pid)
                if not worker.job.done():
                    worker.job.set_exception(
                        RuntimeError("The task's parallel cluster stopped before this job ended")
                    )
        deadline = time.monotonic() + STOP_GRACE
        for worker in self._workers:
            if worker.alive and not wait_exit(worker.pid, deadline):
                kill(worker.pid)
                reap(worker.pid)
            worker.alive = False
            worker.conn.close()
        for process in leftovers:
            with contextlib.suppress(Exception):
                process.kill()

    def _kill_all(self) -> None:
        for worker in self._workers:
            if not worker.alive:
                continue
            kill(worker.pid)
            reap(worker.pid)
            worker.alive = False
            worker.conn.close()


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
            bind_missing_globals(fn)
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
            (False, RuntimeError(f"{type(original).__name__}: {original}"), reply[2])
        )


def bind_missing_globals(fn) -> None:
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


def _cpu_slices(processes: int, cores_per_process: int) -> list:
    """Each worker's CPUs: disjoint slices of this process's CPUs when there are enough."""
    try:
        cpus = sorted(os.sched_getaffinity(0))
    except AttributeError:
        cpus = []
    if len(cpus) < processes * cores_per_process:
        return [None] * processes
    return [
        set(cpus[i * cores_per_process : (i + 1) * cores_per_process]) for i in range(processes)
    ]


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


@contextlib.contextmanager
def running_cluster(processes: int, cores_per_process: int, namespace: dict, setup=None):
    """Start the task's workers, make them the default for pool(), executor() and joblib,
    and stop them when the task's code ends, however it ends.
    """
    global _cluster
    print(
        f"Creating a parallel cluster with {processes} processes, each with "
        f"{cores_per_process} core(s)"
    )
    cluster = Cluster(processes, cores_per_process, namespace, setup)
    cluster.start()
    _cluster = cluster
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


def current_cluster() -> Cluster:
    if _cluster is None:
        raise HipercowError(
            "There is no parallel cluster in this process\n"
            "pool() and executor() work inside a task created with "
            "parallel=hipercow_parallel('parallel') (or 'future') and at least 2 cores."
        )
    return _cluster


@contextlib.contextmanager
def task_context(root, data: dict, namespace: dict):
    """Set the task's cores before its code runs and, with a method, run its worker cluster."""
    cores = set_task_cores()
    spec = data.get("parallel") or {}
    if not spec.get("method"):
        yield
        return
    cores_per_process = spec.get("cores_per_process") or 1
    processes = cluster_shape(cores, cores_per_process)
    environment = spec.get("environment")
    if environment in (None, data.get("environment", "default")):
        setup = None  # the workers start as copies of this process, environment loaded
    else:

        def setup(worker_namespace: dict) -> None:
            load_environment(root, environment, worker_namespace)

    with running_cluster(processes, cores_per_process, namespace, setup):
        yield
