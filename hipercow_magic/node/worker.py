"""A worker of a task's parallel cluster: the forked process that runs jobs it is sent.

The task's process (node/cluster.py) forks each worker; the worker sets its cores and CPUs,
optionally loads an environment of its own, says it is ready, then runs the jobs it receives
(cloudpickled functions and arguments, with the source lines of notebook code among them) until
it is told to stop or its parent goes. A job's error goes back with the job's own frames.
"""

from __future__ import annotations

import contextlib
import ctypes
import io
import os
import signal
import sys
import types

import cloudpickle

from hipercow_magic.core.capture import loads_with_sources
from hipercow_magic.core.titles import set_title
from hipercow_magic.core.tracebacks import user_traceback, worker_traceback
from hipercow_magic.node.cores import hipercow_parallel_set_cores

READY = b"ready"
STOP = b""
PR_SET_PDEATHSIG = 1

_namespace: dict = {}  # in a worker: the names its environment defines


def worker_title(task_id: str | None, index: int) -> tuple[str, str]:
    """A worker's title and short name (`index` counts from 0), as `set_title` takes them:
    `hipercow task ID worker N` and `hc-ID[:8]-wN`.
    """
    if task_id:
        return f"hipercow task {task_id} worker {index + 1}", f"hc-{task_id[:8]}-w{index + 1}"
    return f"hipercow worker {index + 1}", f"hipercow-w{index + 1}"


def worker_main(
    conn, parent: int, cores: int, cpus, namespace: dict, setup, task_id: str | None, index: int
) -> None:
    """A worker's whole life: set up, then run jobs until told to stop. Never returns.

    Args:
        conn: the worker's end of the pipe to the task's process.
        parent: the task process's pid (the worker exits if that process has gone).
        cores: the cores each worker has (HIPERCOW_CORES and the thread limits).
        cpus: the CPUs to pin this worker to, or None.
        namespace: the names the task's environment defines (a copy, from the fork).
        setup: None, or a function that loads another environment into the namespace.
        task_id: the task the worker belongs to (it names the process, see `worker_title`).
        index: the worker's number, counting from 0.
    """
    global _namespace
    _namespace = namespace
    code = 0
    try:
        set_title(*worker_title(task_id, index))
        _die_with_parent(parent)
        if cpus:
            os.sched_setaffinity(0, cpus)
        hipercow_parallel_set_cores(cores)
        try:
            if setup is not None:
                with contextlib.redirect_stdout(io.StringIO()):
                    setup(namespace)
        except BaseException as error:
            conn.send_bytes(f"worker {index + 1}: {user_traceback(error)}".encode())
            raise
        conn.send_bytes(READY)
        _run_jobs(conn, f"worker {index + 1}")
    except BaseException:
        code = 1
    finally:
        try:
            sys.stdout.flush()
            sys.stderr.flush()
        finally:
            os._exit(code)


def _run_jobs(conn, where: str) -> None:
    while True:
        try:
            payload = conn.recv_bytes()
        except EOFError:
            return
        if payload == STOP:
            return
        try:
            fn, args, kwargs = loads_with_sources(payload)
            bind_missing_globals(fn)
            reply = (True, fn(*args, **kwargs))
        except BaseException as error:  # the job's failure goes back to the caller
            reply = (False, error, worker_traceback(error, where))
        sys.stdout.flush()
        sys.stderr.flush()
        conn.send_bytes(_dumps_reply(reply, where))


def _dumps_reply(reply: tuple, where: str) -> bytes:
    try:
        return cloudpickle.dumps(reply)
    except Exception as error:
        if reply[0]:
            problem = RuntimeError(
                f"The job's result could not be sent back: {type(error).__name__}: {error}"
            )
            return cloudpickle.dumps((False, problem, worker_traceback(problem, where)))
        original = reply[1]
        return cloudpickle.dumps(
            (False, RuntimeError(f"{type(original).__name__}: {original}"), reply[2])
        )


def bind_missing_globals(fn) -> None:
    """Let a shipped function see names its worker's environment defines (as R workers do)."""
    if isinstance(fn, types.FunctionType) and fn.__module__ == "__main__":
        for name in fn.__code__.co_names:
            if name not in fn.__globals__ and name in _namespace:
                fn.__globals__[name] = _namespace[name]


def _die_with_parent(parent: int) -> None:
    """Have the kernel kill this worker if the task's process dies (Linux)."""
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    if os.getppid() != parent:
        os._exit(1)
