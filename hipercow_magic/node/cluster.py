"""A task's parallel cluster: worker processes forked on its cores, and the jobs queued for them.

Before the task's code runs, the runner forks `cores // cores_per_process` workers; each gets
its own cores variables, thread-pool limits and CPU subset. Jobs are shipped with cloudpickle,
so functions, lambdas and classes defined in a notebook (module `__main__`) run there, with
their source lines, so a job's traceback shows them.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import os
import pickle
import sys
import threading
import time
from collections import deque
from concurrent.futures.process import BrokenProcessPool
from multiprocessing import connection

from hipercow_magic.core.capture import dumps_with_sources
from hipercow_magic.core.errors import HipercowError
from hipercow_magic.core.procs import descendants, describe_exit, kill, reap, wait_exit
from hipercow_magic.core.tracebacks import RemoteTraceback
from hipercow_magic.node import joblib_backend
from hipercow_magic.node.worker import READY, STOP, worker_main

STOP_GRACE = 2.0  # seconds an idle worker gets to exit before it is killed

_cluster: Cluster | None = None


class _Worker:
    def __init__(self, index: int, pid: int, conn):
        self.index = index
        self.pid = pid
        self.conn = conn
        self.job: concurrent.futures.Future | None = None
        self.alive = True


class Cluster:
    """A fixed set of forked worker processes and the jobs queued for them.

    Args:
        processes: how many workers.
        cores_per_process: the cores each worker gets.
        namespace: the names the workers start with (the task's environment).
        setup: None, or a function each worker runs on its namespace before any job.
        task_id: the task the workers belong to (it names their processes).
    """

    def __init__(
        self,
        processes: int,
        cores_per_process: int,
        namespace: dict,
        setup=None,
        task_id: str | None = None,
    ):
        self.processes = processes
        self.cores_per_process = cores_per_process
        self._namespace = namespace
        self._setup = setup
        self._task_id = task_id
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
                worker_main(
                    child_end,
                    os.getppid(),
                    self.cores_per_process,
                    cpus,
                    self._namespace,
                    self._setup,
                    self._task_id,
                    index,
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
        payload = dumps_with_sources((fn, args, kwargs))
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
        error.__cause__ = RemoteTraceback(**reply[2])
        future.set_exception(error)


@contextlib.contextmanager
def running_cluster(
    processes: int,
    cores_per_process: int,
    namespace: dict,
    setup=None,
    task_id: str | None = None,
):
    """Start the task's workers, make them the default for pool(), executor() and joblib,
    and stop them when the task's code ends, however it ends (arguments as `Cluster`'s).
    """
    global _cluster
    print(
        f"Creating a parallel cluster with {processes} processes, each with "
        f"{cores_per_process} core(s)"
    )
    cluster = Cluster(processes, cores_per_process, namespace, setup, task_id)
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
    """The running task's cluster; an error outside a task that has one."""
    if _cluster is None:
        raise HipercowError(
            "There is no parallel cluster in this process\n"
            "pool() and executor() work inside a task created with "
            "parallel=hipercow_parallel('parallel') (or 'future') and at least 2 cores."
        )
    return _cluster
