"""The local driver's scheduler: one process per root that places queued tasks on the
virtual cluster's nodes and runs each in a process of its own.

Run as `python -m hipercow_magic.drivers.local.scheduler ROOT`. Only one runs per root
(it holds an exclusive lock); it exits by itself when idle, and a new one adopts the
tasks an earlier one left running. Everything it knows is on disk: `hipercow/local/queue/`
holds one file per submission (shared resources and task ids), and each started task's
`status-running` claim says which process runs it and where.
"""

from __future__ import annotations

import fcntl
import json
import os
import select
import signal
import socket
import sys
import time

from hipercow_magic.core import store
from hipercow_magic.core.errors import TaskDied
from hipercow_magic.core.procs import death_reason, kill_tree, open_pidfd, same_process
from hipercow_magic.core.root import Root
from hipercow_magic.core.status import TERMINAL
from hipercow_magic.core.task import marker_status, read_marker, write_terminal
from hipercow_magic.drivers.local import paths
from hipercow_magic.drivers.local.placement import Node, VirtualCluster, order
from hipercow_magic.drivers.local.task_process import fork_task
from hipercow_magic.node import runner

STATE_INTERVAL = 0.5  # seconds between writes of the queue state file
RESCAN_INTERVAL = 0.5  # seconds between looks at the queue folder when nobody wakes us
# What a task's status-running claim holds besides its process, host and start time (a new
# scheduler adopts running tasks from it).
CLAIMED = ("node", "slots", "memory", "whole", "deadline", "max_runtime", "batch")


class Running:
    """A started task: its queue entry (node, slots, times), its process, and how to watch it.

    `pidfd` becomes readable when the process ends (None where the system has no pidfds: the
    scheduler polls instead); `child` is True for processes this scheduler forked (it reaps
    them), False for ones it adopted from an earlier scheduler.
    """

    def __init__(self, entry: dict, pid: int, pidfd: int | None, child: bool):
        self.entry = entry
        self.pid = pid
        self.pidfd = pidfd
        self.child = child
        self.killed_reason: str | None = None


class Scheduler:
    """The scheduler of one root: its queue, its running tasks and the virtual cluster's nodes.

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
        self.queued: dict[tuple[str, int], dict] = {}  # (stamp, index) -> entry
        self.running: dict[str, Running] = {}
        self.pending_reason: dict[str, str] = {}
        self.state_written = 0.0
        self.state_dirty = True
        self.lock_fd = -1
        self.sock: socket.socket | None = None

    # ---- start-up -------------------------------------------------------------------
    def acquire(self) -> bool:
        """Take the root's scheduler lock; False when another scheduler holds it."""
        self.lock_fd = os.open(paths.scheduler_lock(self.root), os.O_RDWR | os.O_CREAT, 0o644)
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
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(paths.wake_address(self.root))
        self.sock.setblocking(False)
        return True

    def adopt(self, task_id: str, claim: dict) -> None:
        """Watch a task some other scheduler (or an earlier us) started."""
        entry = {k: claim.get(k) for k in CLAIMED}
        entry.update(id=task_id, started=claim["time"], slots=entry["slots"] or [])
        entry.update(memory=entry["memory"] or 0, whole=bool(entry["whole"]))
        node = self.nodes.get(entry["node"])
        if node is not None:
            node.take(task_id, len(entry["slots"]), entry["memory"], entry["whole"])
        pid = claim["pid"]
        alive = same_process(pid, claim["time"])
        self.running[task_id] = Running(entry, pid, open_pidfd(pid) if alive else None, False)
        if not alive:
            self.finish(task_id, None)

    # ---- the loop ---------------------------------------------------------------
    def serve(self) -> None:
        """Place, start and watch tasks until idle for `idle_timeout` seconds."""
        idle_since = time.monotonic()
        scanned = 0.0
        while True:
            woken = self.drain_wakeups()
            if woken or time.monotonic() - scanned > RESCAN_INTERVAL:
                self.scan_queue(recheck=b"c" in woken)
                scanned = time.monotonic()
            self.check_deadlines()
            self.place()
            self.write_state()
            if self.queued or self.running:
                idle_since = time.monotonic()
            elif time.monotonic() - idle_since > self.idle_timeout:
                if self.exit_if_still_idle():
                    return
            fds = [self.sock.fileno()] + [
                r.pidfd for r in self.running.values() if r.pidfd is not None
            ]
            try:
                ready, _, _ = select.select(fds, [], [], self.next_timeout())
            except InterruptedError:
                ready = []
            for task_id, run in list(self.running.items()):
                if run.pidfd is not None and run.pidfd in ready:
                    self.finish(task_id, self.reap(run))
                elif run.pidfd is None:
                    self.poll(task_id, run)

    def poll(self, task_id: str, run: Running) -> None:
        """Without a pidfd: finish the task if its process has ended."""
        if run.child:
            try:
                pid, status = os.waitpid(run.pid, os.WNOHANG)
            except ChildProcessError:
                pid, status = run.pid, None
            if pid:
                self.finish(task_id, status)
        elif not same_process(run.pid, run.entry["started"]):
            self.finish(task_id, None)

    def exit_if_still_idle(self) -> bool:
        """Exit only if nothing arrived since the last look (under the queue lock)."""
        with paths.queue_lock(self.root):
            known = set(self.batches)
            if any(
                paths.batch_stamp(n) not in known for n in os.listdir(paths.queue_dir(self.root))
            ):
                return False
            for stamp in known:
                store.remove_file(paths.batch_file(self.root, stamp))
            os.unlink(paths.scheduler_info(self.root))
            return True

    def next_timeout(self) -> float:
        """Seconds the loop may sleep: until a hold or deadline ends, the state is due, or
        (for tasks watched without a pidfd) the next look at them.
        """
        now = time.time()
        timeout = 1.0
        if self.state_dirty:
            timeout = max(STATE_INTERVAL - (time.monotonic() - self.state_written), 0.0)
        for entry in self.queued.values():
            hold = entry.get("hold_until")
            if hold and hold > now:
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
        while True:
            try:
                got += self.sock.recv(64)
            except (BlockingIOError, InterruptedError):
                return got

    def scan_queue(self, recheck: bool = False) -> None:
        """Read new batch files; with `recheck`, drop queued tasks that were cancelled."""
        for name in os.listdir(paths.queue_dir(self.root)):
            stamp = paths.batch_stamp(name)
            if stamp is None or stamp in self.batches:
                continue
            batch = store.read_json_or(paths.batch_file(self.root, stamp))
            if batch is None:
                continue
            self.batches[stamp] = 0
            for index, task_id in enumerate(batch["ids"]):
                status = marker_status(self.root, task_id)
                if status in TERMINAL:
                    continue
                self.batches[stamp] += 1
                if status == "running":
                    if task_id not in self.running:
                        self.adopt(task_id, read_marker(self.root, task_id, "running"))
                    continue
                self.queued[(stamp, index)] = {**batch["resources"], "id": task_id, "batch": stamp}
            self.state_dirty = True
            self._batch_done(stamp, 0)
        if recheck:
            for key, entry in list(self.queued.items()):
                if marker_status(self.root, entry["id"]) in TERMINAL:
                    self._dequeue(key)

    def _dequeue(self, key) -> None:
        entry = self.queued.pop(key)
        self.pending_reason.pop(entry["id"], None)
        self.state_dirty = True
        self._batch_done(entry["batch"], 1)

    def _batch_done(self, stamp: str | None, finished: int) -> None:
        """Count finished tasks of a batch; its file goes when all are done."""
        if stamp not in self.batches:
            return
        self.batches[stamp] -= finished
        if self.batches[stamp] <= 0:
            del self.batches[stamp]
            store.remove_file(paths.batch_file(self.root, stamp))

    def place(self) -> None:
        """Start the queued tasks the virtual cluster has room for now."""
        if not self.queued:
            return
        placement = self.cluster.place(self.queued, time.time())
        for task_id, reason in placement.reasons.items():
            if self.pending_reason.get(task_id) != reason:
                self.pending_reason[task_id] = reason
                self.state_dirty = True
        if placement.launches:
            self.launch(placement.launches)

    def launch(self, launches: list[tuple[tuple, dict, Node]]) -> None:
        """Start each task's process and claim the task for it, under the queue lock.

        A task cancelled while queued has its terminal marker already: it is skipped.
        """
        with paths.queue_lock(self.root):
            for key, entry, node in launches:
                task_id = entry["id"]
                if marker_status(self.root, task_id) in (*TERMINAL, "running"):
                    node.release(task_id, entry["slots"], entry["memory"])
                    if key in self.queued:
                        self._dequeue(key)
                    continue
                del self.queued[key]
                self.pending_reason.pop(task_id, None)
                entry["started"] = time.time()
                if entry.get("max_runtime"):
                    entry["deadline"] = entry["started"] + 60 * int(entry["max_runtime"])
                cores = node.cores if entry["cores"] == "Inf" else int(entry["cores"])
                go_read, go_write = os.pipe()
                cpus = node.physical_cpus(entry["slots"])
                pid = fork_task(self.root, task_id, cores, cpus, entry["node"], (go_read, go_write))
                os.close(go_read)
                claim = {"pid": pid, "host": socket.gethostname(), "time": entry["started"]}
                claim.update({k: entry.get(k) for k in CLAIMED})
                claimed = store.create_exclusive(
                    self.root.task_file(task_id, "status-running"), json.dumps(claim)
                )
                os.write(go_write, b"g" if claimed else b"s")
                os.close(go_write)
                run = Running(entry, pid, open_pidfd(pid), child=True)
                self.running[task_id] = run
                if not claimed:
                    run.killed_reason = "already started elsewhere"
                self.state_dirty = True

    @staticmethod
    def reap(run: Running) -> int | None:
        """A finished task's wait status (None for an adopted process, not ours to reap)."""
        if not run.child:
            return None
        try:
            _, status = os.waitpid(run.pid, 0)
        except ChildProcessError:
            return None
        return status

    def finish(self, task_id: str, wait_status: int | None) -> None:
        """A task's process ended: free its place; record a failure if it left no result."""
        run = self.running.pop(task_id)
        if run.pidfd is not None:
            os.close(run.pidfd)
        entry = run.entry
        node = self.nodes.get(entry.get("node"))
        if node is not None:
            node.release(task_id, entry["slots"], entry["memory"])
        self.state_dirty = True
        code = os.waitstatus_to_exitcode(wait_status) if wait_status is not None else None
        if code == runner.EXIT_NOT_STARTED:
            claim = read_marker(self.root, task_id, "running")
            if claim and claim.get("pid") != run.pid:
                self.adopt(task_id, claim)  # another process runs it: watch that one
            return
        if marker_status(self.root, task_id) not in TERMINAL:
            started = entry.get("started")
            if os.path.exists(self.root.task_file(task_id, "cancel-requested")):
                write_terminal(self.root, task_id, "cancelled", started=started)
            else:
                reason = run.killed_reason or death_reason(code)
                write_terminal(
                    self.root,
                    task_id,
                    "failure",
                    reason=reason,
                    started=started,
                    result={"ok": False, "error": TaskDied(reason), "traceback": ""},
                )
        self._batch_done(entry.get("batch"), 1)

    def check_deadlines(self) -> None:
        """Kill (with all its processes) each task past its max_runtime, saying why in its log."""
        now = time.time()
        for task_id, run in list(self.running.items()):
            deadline = run.entry.get("deadline")
            if deadline and now >= deadline and run.killed_reason is None:
                minutes = run.entry["max_runtime"]
                run.killed_reason = (
                    f"exceeded max_runtime of {minutes} minute{'' if minutes == 1 else 's'}"
                )
                with _log(self.root, task_id) as log:
                    print(f"\n✖ {run.killed_reason}: stopping the task", file=log)
                kill_tree(run.pid)

    def write_state(self) -> None:
        """The queue as users see it: position and pending reason of each waiting task."""
        now = time.monotonic()
        if not self.state_dirty or now - self.state_written < STATE_INTERVAL:
            return
        pending = {}
        for position, key in enumerate(order(self.queued), start=1):
            task_id = self.queued[key]["id"]
            pending[task_id] = {
                "position": position,
                "reason": self.pending_reason.get(task_id, "Resources"),
            }
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
                "nodes": {
                    n.name: {"free_cores": len(n.free_slots), "tasks": len(n.tasks)}
                    for n in self.nodes.values()
                },
            },
        )
        self.state_written = now
        self.state_dirty = False


def _log(root, task_id: str):
    return open(root.task_file(task_id, "log"), "a")


def main(argv: list[str] | None = None) -> int:
    """`python -m hipercow_magic.drivers.local.scheduler ROOT`: serve the root until idle
    (returns at once when another scheduler serves it).
    """
    argv = sys.argv[1:] if argv is None else argv
    scheduler = Scheduler(argv[0])
    if not scheduler.acquire():
        return 0
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    scheduler.serve()
    return 0


if __name__ == "__main__":
    sys.exit(main())
