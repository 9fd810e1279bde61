"""Process helpers: finding, killing and reaping process trees, and saying how a process ended."""

from __future__ import annotations

import contextlib
import os
import select
import signal
import time

import psutil

PF_EXITING = 0x4  # a process's flag (/proc/PID/stat) once it has begun to exit
SIGKILL_PENDING = 1 << (signal.SIGKILL - 1)  # its bit in the pending signals (/proc/PID/status)


def stat_fields(pid: int) -> list[bytes] | None:
    """A process's /proc/PID/stat from its 3rd field on (state, ppid, ... as `man 5 proc`
    numbers them, less 3: the name, which may hold spaces, is left out); None when it can't
    be read (the process has gone, or the system has no /proc).
    """
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            stat = f.read()
    except OSError:
        return None
    return stat[stat.rindex(b")") + 2 :].split()


def dying(pid: int) -> bool:
    """Whether a process has been sent SIGKILL (a fatal signal becomes one) or is exiting,
    as Linux's /proc says; False where it can't say.
    """
    fields = stat_fields(pid)
    try:
        with open(f"/proc/{pid}/status", "rb") as f:
            status = dict(line.split(b":", 1) for line in f.read().splitlines() if b":" in line)
        pending = int(status[b"SigPnd"], 16) | int(status[b"ShdPnd"], 16)
        exiting = fields[0] in (b"Z", b"X") or int(fields[6]) & PF_EXITING
    except (OSError, TypeError, IndexError, KeyError, ValueError):
        return False
    return bool(exiting or pending & SIGKILL_PENDING)


def descendants(pids: list[int]) -> list:
    """The processes the workers started (to kill any a worker leaves behind)."""
    found = []
    for pid in child_pids(pids):
        with contextlib.suppress(psutil.Error):
            process = psutil.Process(pid)
            found += [process, *process.children(recursive=True)]
    return found


def child_pids(pids: list[int]) -> list[int]:
    """Direct children of `pids`, from /proc/<pid>/task/*/children (psutil where missing)."""
    children = []
    for pid in pids:
        try:
            for task in os.listdir(f"/proc/{pid}/task"):
                with open(f"/proc/{pid}/task/{task}/children") as f:
                    children += [int(c) for c in f.read().split()]
        except FileNotFoundError:
            with contextlib.suppress(psutil.Error):
                children += [c.pid for c in psutil.Process(pid).children()]
    return children


def kill(pid: int) -> None:
    """SIGKILL one process (no error if it has gone)."""
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGKILL)


def reap(pid: int) -> int | None:
    """Wait for a child process to end; its exit code (negative: the signal), None if unknown."""
    try:
        _, status = os.waitpid(pid, 0)
    except ChildProcessError:
        return None
    return os.waitstatus_to_exitcode(status)


def open_pidfd(pid: int) -> int | None:
    """A file descriptor that becomes readable when `pid` exits (Linux 5.3+).

    Returns:
        The descriptor, or None where the system has none to give (an older kernel, another
        platform, or a process that has gone); the caller then polls instead.
    """
    try:
        return os.pidfd_open(pid)
    except (AttributeError, OSError):
        return None


def wait_exit(pid: int, deadline: float) -> bool:
    """Reap the child if it exits before `deadline` (monotonic); False if it is still running."""
    fd = open_pidfd(pid)
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


def signal_name(number: int) -> str:
    """'SIGKILL' for 9; 'signal 99' for a number with no name."""
    try:
        return signal.Signals(number).name
    except ValueError:
        return f"signal {number}"


def describe_exit(code: int | None) -> str:
    """'killed by SIGKILL', 'exit code 3' or 'exit status unknown' (code as `reap` gives it)."""
    if code is None:
        return "exit status unknown"
    return f"killed by {signal_name(-code)}" if code < 0 else f"exit code {code}"


def death_reason(code: int | None) -> str:
    """Why a task's process left no result, from its exit code (as a failure's reason)."""
    if code is None:
        return "the task's process died without a result"
    if code < 0:
        return f"the task's process was killed by {signal_name(-code)} without a result"
    return f"the task's process exited with code {code} without a result"


def same_process(pid: int, started: float) -> bool:
    """True if `pid` runs and began no later than `started` (guards against pid reuse)."""
    try:
        return psutil.Process(pid).create_time() <= started + 1.0
    except (psutil.NoSuchProcess, psutil.AccessDenied, ValueError):
        return False


def kill_tree(pid: int) -> None:
    """SIGKILL a task's process, its process group and every descendant."""
    try:
        children = psutil.Process(pid).children(recursive=True)
    except psutil.NoSuchProcess:
        children = []
    for sig_target in (
        lambda: os.killpg(pid, signal.SIGKILL),
        lambda: os.kill(pid, signal.SIGKILL),
    ):
        try:
            sig_target()
        except (ProcessLookupError, PermissionError):
            pass
    for child in children:
        try:
            child.kill()
        except psutil.NoSuchProcess:
            pass
