"""The local driver's scheduler: one process per root that places queued tasks on the
virtual cluster's nodes and runs each in a process of its own.

Run as `python -m hipercow_magic.drivers.local.scheduler ROOT`. Only one runs per root
(it holds an exclusive lock); it exits by itself when idle, and a new one adopts the
tasks an earlier one left running. Everything it knows is on disk: `hipercow/local/queue/`
holds one file per submission (shared resources and task ids), and each started task's
`status-running` claim says which process runs it and where.
"""

from __future__ import annotations

import contextlib
import fcntl
import importlib
import math
import os
import select
import signal
import socket
import sys
import time
import traceback

from hipercow_magic.core import store
from hipercow_magic.core.errors import TaskDied
from hipercow_magic.core.procs import open_pidfd, same_process
from hipercow_magic.core.root import Root
from hipercow_magic.core.status import TERMINAL
from hipercow_magic.core.task import marker_status, write_terminal
from hipercow_magic.core.usage import read_usage
from hipercow_magic.drivers.local import intake, paths
from hipercow_magic.drivers.local.events import Announcer
from hipercow_magic.drivers.local.health import EXIT_START_FAILED, log, record_start_failure
from hipercow_magic.drivers.local.holds import Holds
from hipercow_magic.drivers.local.launching import CLAIMED, SPARE_DELAY, Launching
from hipercow_magic.drivers.local.placement import Queue, VirtualCluster
from hipercow_magic.drivers.local.queue_reader import QueueReader
from hipercow_magic.drivers.local.state import pending_state
from hipercow_magic.drivers.local.task_ends import Running, TaskEnds
from hipercow_magic.drivers.local.task_process import PRELOADED, Spare
from hipercow_magic.drivers.local.usage_watch import UsageWatch
from hipercow_magic.drivers.local.wake import listen

STATE_INTERVAL = 0.5  # seconds between writes of the queue state file
RESCAN_INTERVAL = 0.5  # seconds between looks at the queue folder when nobody wakes us


class Scheduler(QueueReader, Launching, TaskEnds, Holds, UsageWatch):
    """The scheduler of one root: its queue, its running tasks and the virtual cluster's nodes.

    Every queue file, task and process end is handled on its own: one that can't be read or
    run is refused or failed with a reason (and a line in the scheduler's log), and the
    others go on.

    Args:
        root_path: the root whose local driver configuration describes the cluster.
    """

    def __init__(self, root_path: str):
        self.root = Root(root_path)
        self.config = self.root.driver_config("local") or {}
        cpus = sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else []
        self.cluster = VirtualCluster(self.config["cluster"], cpus)
        self.nodes = self.cluster.nodes
        self.idle_timeout = float(self.config.get("idle_timeout", 300))
        self.batches: dict[str, int] = {}  # batch stamp -> tasks not yet finished
        self.refused: set[str] = set()  # stamps of queue files not run (logged once)
        self.left_alone: dict[str, str] = {}  # another user's tasks not run -> why
        self.queued = Queue()  # (stamp, index) -> entry
        self.running: dict[str, Running] = {}
        self.pending_reason: dict[str, str] = {}
        self.reserved: set[str] = set()  # nodes kept free for a task wanting a whole node
        self.waiting_on: dict[str, set[tuple]] = {}  # parent id -> keys of tasks held for it
        self.to_check: set[str] = set()  # parents to look at again
        self.state_written = 0.0
        self.state_dirty = True
        self.lock_fd = -1
        self.sock: socket.socket | None = None
        self.spares: list[Spare] = []  # processes forked ahead of the next tasks, oldest first
        self.fork_failed = -math.inf  # time.monotonic() when forking a spare last failed
        self.events = Announcer(self.root)  # tells waiters of starts and ends
        self.uid = os.geteuid()
        self.last_error: str | None = None

    # ---- start-up -------------------------------------------------------------------
    def acquire(self) -> bool:
        """Take the root's scheduler lock; False when another scheduler holds it."""
        self.lock_fd = os.open(paths.scheduler_lock(self.root), os.O_RDWR | os.O_CREAT, 0o666)
        deadline = time.monotonic() + 1.0
        while True:
            try:
                fcntl.flock(self.lock_fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    return False
                time.sleep(0.02)
        store.write_json(
            paths.scheduler_info(self.root), {"pid": os.getpid(), "started": time.time()}
        )
        store.remove_file(paths.start_failures(self.root))
        self.sock = listen(self.root)
        return True

    def adopt(self, task_id: str, claim: dict) -> None:
        """Watch a task some other scheduler (or an earlier us) started."""
        pid, started = int(claim["pid"]), float(claim["time"])
        entry = {k: claim.get(k) for k in CLAIMED}
        entry.update(id=task_id, started=started, slots=entry["slots"] or [])
        entry.update(memory=entry["memory"] or 0, whole=bool(entry["whole"]))
        node = self.nodes.get(entry["node"])
        if node is not None:
            cores, devices = len(entry["slots"]), entry.get("gpu_devices")
            node.take(task_id, cores, entry["memory"], entry["whole"], devices=devices)
        alive = same_process(pid, started)
        pidfd = open_pidfd(pid) if alive else None
        self.running[task_id] = Running(entry, pid, pidfd, False, read_usage(self.root, task_id))
        if not alive:
            self.finish(task_id, None)

    # ---- faults ---------------------------------------------------------------------
    def guard(self, what: str, step, *args) -> None:
        """Run one step; an error is logged (once while it repeats) and the loop goes on."""
        try:
            step(*args)
        except Exception as e:
            error = f"{what}: {type(e).__name__}: {e}"
            if error != self.last_error:
                log(f"error {error}\n{traceback.format_exc()}")
            self.last_error = error

    def fail(self, task_id: str, reason: str) -> None:
        """Record a failure with its reason, for a task this scheduler's user owns."""
        log(f"task {task_id}: {reason}")
        try:
            if intake.task_owner(self.root, task_id) != self.uid:
                return
            if marker_status(self.root, task_id) in (*TERMINAL, None):
                return
            write_terminal(
                self.root,
                task_id,
                "failure",
                reason=reason,
                result={"ok": False, "error": TaskDied(reason), "traceback": ""},
            )
            self.events.add(task_id)
            self.parent_ended(task_id)
        except Exception as e:
            log(f"task {task_id}: could not record its failure ({e})")

    # ---- the loop ---------------------------------------------------------------
    def serve(self) -> None:
        """Place, start and watch tasks until idle for `idle_timeout` seconds."""
        idle_since = time.monotonic()
        scanned = 0.0
        last_woken = 0.0  # when the loop's wait last ended on something
        while True:
            woken = self.drain_wakeups()
            rescan = time.monotonic() - scanned > RESCAN_INTERVAL
            if woken or rescan:
                self.guard("reading the queue", self.scan_queue, b"c" in woken)
                scanned = time.monotonic()
            self.guard("checking dependencies", self.check_holds, b"c" in woken, rescan)
            self.guard("checking deadlines", self.check_deadlines)
            self.guard("measuring usage", self.sample_usage)
            self.guard("placing tasks", self.place)
            self.events.flush(busy=bool(self.queued))
            self.guard("writing the queue state", self.write_state)
            if not self.running or time.monotonic() - last_woken >= SPARE_DELAY:
                self.guard("forking a spare process", self.keep_spare)
            if self.queued or self.running:
                idle_since = time.monotonic()
            elif time.monotonic() - idle_since > self.idle_timeout:
                if self.exit_if_still_idle():
                    return
            fds = [self.sock.fileno()] if self.sock is not None else []
            fds += [r.pidfd for r in self.running.values() if r.pidfd is not None]
            timeout = self.next_timeout()
            if self.sock is None:
                timeout = min(timeout, RESCAN_INTERVAL)
            if not (self.queued or self.running):  # wake up in time to exit when idle
                idle_end = idle_since + self.idle_timeout - time.monotonic()
                timeout = min(timeout, max(idle_end, 0.0) + 0.01)
            try:
                ready, _, _ = select.select(fds, [], [], timeout)
            except InterruptedError:
                ready = []
            if ready:
                last_woken = time.monotonic()
            for task_id, run in list(self.running.items()):
                if run.pidfd is not None and run.pidfd in ready:
                    self.guard(f"finishing task {task_id}", self.finish, task_id, self.reap(run))
                elif run.pidfd is None:
                    self.guard(f"watching task {task_id}", self.poll, task_id, run)
            self.events.flush(busy=bool(self.queued))

    def exit_if_still_idle(self) -> bool:
        """Exit only if nothing arrived since the last look.

        Under the queue lock (which submitters hold while writing a batch), the scheduler
        lets go of the root's lock before the queue lock: a submitter then either wrote its
        batch before the last look, or finds no scheduler and starts one.
        """
        with paths.queue_lock(self.root):
            known = set(self.batches) | self.refused
            if any(
                paths.batch_stamp(n) not in known for n in os.listdir(paths.queue_dir(self.root))
            ):
                return False
            for stamp in self.batches:
                store.remove_file(paths.batch_file(self.root, stamp))
            store.remove_file(paths.scheduler_info(self.root))
            self.drop_spares()
            if self.sock is not None:
                self.sock.close()
                self.sock = None
                store.remove_file(paths.wake_address(self.root))
            fcntl.flock(self.lock_fd, fcntl.LOCK_UN)
            os.close(self.lock_fd)
            return True

    def next_timeout(self) -> float:
        """Seconds the loop may sleep: until a hold or deadline ends, the state is due, a
        task's usage is to be read, the next spare is to be forked, held notices may go out,
        or (for tasks watched without a pidfd) the next look at them.
        """
        now = time.time()
        timeout = min(1.0, max(self.spare_due(), SPARE_DELAY if self.running else 0.0))
        if self.state_dirty:
            state_due = STATE_INTERVAL - (time.monotonic() - self.state_written)
            timeout = min(timeout, max(state_due, 0.0))
        timeout = min(timeout, self.usage_due(), self.events.due())
        for hold in self.queued.holds():
            if hold > now:
                timeout = min(timeout, hold - now)
        for run in self.running.values():
            deadline = run.entry.get("deadline")
            if deadline:
                timeout = min(timeout, max(deadline - now, 0.0))
            if run.pidfd is None:
                timeout = min(timeout, 0.5)
        return max(timeout, 0.0)

    def drain_wakeups(self) -> bytes:
        """Read every pending wake-up message ('w' new work, 'c' cancelled)."""
        got = b""
        while self.sock is not None:
            try:
                got += self.sock.recv(64)
            except (BlockingIOError, InterruptedError):
                break
            except OSError:
                break
        return got

    def write_state(self) -> None:
        """The queue as users see it: position and pending reason (its code and its words)
        of each waiting task.
        """
        now = time.monotonic()
        if not self.state_dirty or now - self.state_written < STATE_INTERVAL:
            return
        pending = pending_state(
            self.cluster, self.queued, self.pending_reason, self.reserved, time.time()
        )
        running = {
            task_id: {"node": r.entry.get("node"), "pid": r.pid, "cores": r.entry.get("cores")}
            for task_id, r in self.running.items()
        }
        store.write_json(
            paths.state_file(self.root),
            {
                "time": time.time(),
                "pending": pending,
                "running": running,
                "refused": self.left_alone,
                "nodes": {
                    n.name: {"free_cores": len(n.free_slots), "tasks": len(n.tasks)}
                    for n in self.nodes.values()
                },
            },
        )
        self.state_written = now
        self.state_dirty = False


def main(argv: list[str] | None = None) -> int:
    """`python -m hipercow_magic.drivers.local.scheduler ROOT`: serve the root until idle
    (returns at once when another scheduler serves it).

    HIPERCOW_SCHEDULER_READY_FD, when set, is a pipe to the starting process: one byte once
    the root's lock is taken (`1`) or found held by another scheduler (`0`); nothing if
    start-up fails.
    """
    argv = sys.argv[1:] if argv is None else argv
    ready_fd = os.environ.pop("HIPERCOW_SCHEDULER_READY_FD", None)
    ready = int(ready_fd) if ready_fd else None
    try:
        scheduler = Scheduler(argv[0])
        acquired = scheduler.acquire()
    except Exception as e:
        log(f"the scheduler could not start: {type(e).__name__}: {e}\n{traceback.format_exc()}")
        record_start_failure(Root(argv[0]), f"{type(e).__name__}: {e}")
        return EXIT_START_FAILED
    if ready is not None:
        with contextlib.suppress(OSError):
            os.write(ready, b"1" if acquired else b"0")
            os.close(ready)
    if not acquired:
        return 0
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    for module in PRELOADED:
        importlib.import_module(module)
    try:
        scheduler.serve()
    except Exception as e:
        log(f"the scheduler stopped: {type(e).__name__}: {e}\n{traceback.format_exc()}")
        record_start_failure(scheduler.root, f"{type(e).__name__}: {e}")
        return 2
    finally:
        scheduler.drop_spares()
    return 0


if __name__ == "__main__":
    sys.exit(main())
