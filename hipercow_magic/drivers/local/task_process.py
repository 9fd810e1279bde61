"""A local task's process: forked from the scheduler, set up as the task's node would be,
then running the task.

Forked rather than started afresh, so nothing is imported again; the child renames itself
(`hipercow task ID (ROOT)`) at once, so ps, top and `pkill -f ID` tell it from the scheduler.
"""

from __future__ import annotations

import os
import signal
import sys
import traceback

from hipercow_magic.drivers.local.events import announce
from hipercow_magic.node import runner
from hipercow_magic.node.cores import THREAD_VARIABLES


def fork_task(
    root,
    task_id: str,
    cores: int,
    cpus: set[int] | None,
    node: str,
    go: tuple[int, int],
    started: float,
    gpus: list[int] | None = None,
) -> int:
    """Start the task in a new process; returns its pid (in the scheduler).

    The child waits for the scheduler to claim the task (a byte on the `go` pipe) before
    running; if the scheduler dies first, the child sees end-of-file and exits.

    Args:
        root: the task's root.
        task_id: the task to run.
        cores: the task's cores (HIPERCOW_CORES and every thread-count variable).
        cpus: the CPUs to pin the task to, or None.
        node: the virtual node it runs on (HIPERCOW_NODE).
        go: both ends of the pipe the scheduler writes `b"g"` (run) or `b"s"` (stop) to.
        started: the start time the scheduler's claim records.
        gpus: the node's GPUs the task was given (CUDA_VISIBLE_DEVICES names only these;
            [] hides every GPU), or None to leave CUDA_VISIBLE_DEVICES as it is.
    """
    sys.stdout.flush()
    sys.stderr.flush()
    pid = os.fork()
    if pid:
        return pid
    code = 1
    try:
        runner.set_task_title(root.path, task_id)
        os.close(go[1])
        if os.read(go[0], 1) != b"g":
            os._exit(runner.EXIT_NOT_STARTED)
        os.setpgid(0, 0)
        for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGCHLD):
            signal.signal(sig, signal.SIG_DFL)
        log = os.open(root.task_file(task_id, "log"), os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o666)
        devnull = os.open(os.devnull, os.O_RDONLY)
        os.dup2(devnull, 0)
        os.dup2(log, 1)
        os.dup2(log, 2)
        os.closerange(3, 1 << 16)
        for name in THREAD_VARIABLES:
            os.environ[name] = str(cores)
        os.environ["HIPERCOW_NO_DRIVERS"] = "1"
        os.environ["HIPERCOW_NODE"] = node
        if gpus is not None:
            os.environ["CUDA_VISIBLE_DEVICES"] = ",".join(str(g) for g in gpus)
        if cpus:
            os.sched_setaffinity(0, cpus)
        sys.stdout = open(1, "w", buffering=1, closefd=False)
        sys.stderr = open(2, "w", buffering=1, closefd=False)
        code = runner.run_task(root, task_id, claimed=True, started=started)
        announce(root, [task_id])  # at once; the scheduler tells again when it reaps
    except BaseException:
        traceback.print_exc()
    finally:
        try:
            sys.stdout.flush()
            sys.stderr.flush()
        finally:
            os._exit(code)
