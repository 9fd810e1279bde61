"""A local task's process: forked from the scheduler ahead of need (a spare, waiting for a
task), then set up as the task's node would be and running the task it is given.

Forked rather than started afresh, so nothing is imported again; forked before a task is
there, so a task starts without waiting for a fork; and while it waits it makes the memory
it shares with the scheduler its own (warming.py), so the task does not stop to copy pages.
The spare is titled `hipercow spare of scheduler PID`; once given a task it renames itself
(`hipercow task ID (ROOT)`), so ps, top and `pkill -f ID` tell it from the scheduler. A
spare whose scheduler ends sees end-of-file on its pipe and exits.
"""

from __future__ import annotations

import json
import os
import signal
import sys
import traceback

from hipercow_magic.core.procs import dying
from hipercow_magic.core.titles import set_title
from hipercow_magic.drivers.local.events import announce
from hipercow_magic.drivers.local.warming import warm_until_readable
from hipercow_magic.node import runner
from hipercow_magic.node.cores import THREAD_VARIABLES

# What a scheduler loads before its first fork, so its task processes import nothing the
# runner loads only when used (on a cluster node each task is a fresh interpreter): reading a
# task's captured values, a failure's traceback, and a parallel method's workers.
PRELOADED = (
    "hipercow_magic.core.capture.pickling",
    "hipercow_magic.core.tracebacks",
    "hipercow_magic.node.pool",
)


class Spare:
    """A process forked from the scheduler that waits to be given one task.

    The scheduler claims a task for the spare's pid first, then `start`s it (or, when the
    claim could not be written, `refuse`s it: the spare exits with runner.EXIT_NOT_STARTED).
    Either way the spare is used up: the scheduler forks the next one.

    Args:
        root: the root whose tasks it will run.
        ahead: whether it is forked ahead of need (it warms its memory while it waits);
            else it is forked for a task about to be given it, and only waits for that.
    """

    def __init__(self, root, ahead: bool):
        self.ahead = ahead
        orders, self._orders = os.pipe()
        sys.stdout.flush()
        sys.stderr.flush()
        scheduler = os.getpid()
        try:
            self.pid = os.fork()
        except BaseException:
            os.close(orders)
            os.close(self._orders)
            raise
        if self.pid == 0:
            _wait_and_run(root, orders, scheduler, ahead)  # never returns
        os.close(orders)

    def alive(self) -> bool:
        """Whether the spare still waits: one killed meanwhile is reaped here, and one sent a
        fatal signal that has not ended yet counts as gone (a task given to it would die).
        """
        try:
            pid, _ = os.waitpid(self.pid, os.WNOHANG)
        except ChildProcessError:
            return False
        return pid == 0 and not dying(self.pid)

    def cpu_used(self) -> float:
        """CPU seconds the spare has used so far (forking, warming, waiting): not the task's.
        0.0 for one forked for its task (it did nothing of its own worth counting), and where
        the system does not say (no /proc/PID/schedstat).
        """
        if not self.ahead:
            return 0.0
        try:
            with open(f"/proc/{self.pid}/schedstat", "rb") as f:
                return int(f.read().split()[0]) / 1e9
        except (OSError, ValueError, IndexError):
            return 0.0

    def start(
        self,
        task_id: str,
        cores: int,
        cpus: set[int] | None,
        node: str,
        started: float,
        gpus: list[int] | None = None,
        tell_waiters: bool = True,
    ) -> None:
        """Run the task claimed for this process.

        Args:
            task_id: the task to run.
            cores: the task's cores (HIPERCOW_CORES and every thread-count variable).
            cpus: the CPUs to pin the task to, or None.
            node: the virtual node it runs on (HIPERCOW_NODE).
            started: the start time the scheduler's claim records.
            gpus: the node's GPUs the task was given (CUDA_VISIBLE_DEVICES names only these;
                [] hides every GPU), or None to leave CUDA_VISIBLE_DEVICES as it is.
            tell_waiters: whether the process tells waiters of the task's end itself, at
                once, before the scheduler reaps it (not while a batch is worked through:
                the scheduler's notices gather those).
        """
        order = {"id": task_id, "cores": cores, "cpus": sorted(cpus or []), "node": node}
        order.update(started=started, gpus=gpus, tell=tell_waiters)
        self._send(b"g" + json.dumps(order).encode())

    def refuse(self) -> None:
        """Tell the spare its task was not claimed: it exits without running anything."""
        self._send(b"s")

    def close(self) -> None:
        """Let the spare go unused: it exits, and is reaped here."""
        self._send(b"")
        try:
            os.waitpid(self.pid, 0)
        except ChildProcessError:
            pass

    def _send(self, message: bytes) -> None:
        try:
            while message:
                message = message[os.write(self._orders, message) :]
        finally:
            os.close(self._orders)


def _read_all(fd: int) -> bytes:
    chunks = []
    while chunk := os.read(fd, 65536):
        chunks.append(chunk)
    return b"".join(chunks)


def _wait_and_run(root, orders: int, scheduler: int, ahead: bool) -> None:
    """The spare's life: wait for its order (warming its memory meanwhile when forked
    ahead of need), run that task, exit (never returns).
    """
    code = 1
    try:
        set_title(f"hipercow spare of scheduler {scheduler}", "hipercow-spare")
        for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGCHLD):
            signal.signal(sig, signal.SIG_DFL)  # not the scheduler's handlers
        os.closerange(3, orders)  # the scheduler's lock, socket and tasks are not ours
        os.closerange(orders + 1, 1 << 16)
        _prepare()
        if ahead:
            warm_until_readable(orders)
        message = _read_all(orders)
        os.close(orders)
        if message[:1] != b"g":
            os._exit(runner.EXIT_NOT_STARTED)
        order = json.loads(message[1:])
        code = _run(root, order)
    except BaseException:
        traceback.print_exc()
    finally:
        try:
            sys.stdout.flush()
            sys.stderr.flush()
        finally:
            os._exit(code)


def _prepare() -> None:
    """What makes this process a task's, whichever task it is (done while it waits): its own
    process group, nothing on stdin, no drivers, and line-buffered stdout and stderr on
    descriptors 1 and 2 (the task's log, once it has one).
    """
    os.setpgid(0, 0)
    devnull = os.open(os.devnull, os.O_RDONLY)
    os.dup2(devnull, 0)
    os.close(devnull)
    os.environ["HIPERCOW_NO_DRIVERS"] = "1"
    sys.stdout = open(1, "w", buffering=1, closefd=False)
    sys.stderr = open(2, "w", buffering=1, closefd=False)


def _run(root, order: dict) -> int:
    """Set this process up as the task's node would be, then run the task."""
    task_id = order["id"]
    runner.set_task_title(root.path, task_id)
    log = os.open(root.task_file(task_id, "log"), os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o666)
    os.dup2(log, 1)
    os.dup2(log, 2)
    os.close(log)
    for name in THREAD_VARIABLES:
        os.environ[name] = str(order["cores"])
    os.environ["HIPERCOW_NODE"] = order["node"]
    if order["gpus"] is not None:
        os.environ["CUDA_VISIBLE_DEVICES"] = ",".join(str(g) for g in order["gpus"])
    if order["cpus"]:
        os.sched_setaffinity(0, order["cpus"])
    code = runner.run_task(root, task_id, claimed=True, started=order["started"])
    if order["tell"]:
        announce(root, [task_id])  # at once; the scheduler tells again when it reaps
    return code
