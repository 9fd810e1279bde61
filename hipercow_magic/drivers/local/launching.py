"""How the local scheduler starts tasks: placing queued tasks on the virtual cluster, claiming
each for a spare process forked ahead of need, and keeping the next spare ready.
"""

from __future__ import annotations

import json
import math
import socket
import time
import traceback

from hipercow_magic.core import store
from hipercow_magic.core.procs import open_pidfd
from hipercow_magic.core.status import TERMINAL
from hipercow_magic.core.task import marker_status
from hipercow_magic.drivers.local import paths
from hipercow_magic.drivers.local.health import log
from hipercow_magic.drivers.local.placement import Node
from hipercow_magic.drivers.local.task_ends import Running
from hipercow_magic.drivers.local.task_process import Spare

# What a task's status-running claim holds besides its process, host and start time (a new
# scheduler adopts running tasks from it); `spare_cpu` is the CPU time its process used as a
# spare, before it was given the task (not counted as the task's).
CLAIMED = (
    "node",
    "slots",
    "memory",
    "whole",
    "deadline",
    "max_runtime",
    "batch",
    "gpu_devices",
    "spare_cpu",
)
SPARES = 2  # spares kept ready: two tasks submitted together both start without a fork
SPARE_DELAY = 0.02  # seconds of quiet, while tasks run, before the next spare is forked
FORK_RETRY = 1.0  # seconds before a spare is forked again after a fork failed


class Launching:
    """The task-starting half of the Scheduler (a mixin: it uses the scheduler's `root`,
    `cluster`, `queued`, `running`, `reserved`, `pending_reason`, `state_dirty`, `events`,
    `spares`, `fork_failed`, and its `claim`, `never_started`, `fail` and `_dequeue`).
    """

    def place(self) -> None:
        """Start the queued tasks the virtual cluster has room for now."""
        if not self.queued:
            return
        placement = self.cluster.place(self.queued, time.time())
        if placement.reserved != self.reserved:
            self.reserved = placement.reserved
            self.state_dirty = True
        for task_id, reason in placement.reasons.items():
            if self.pending_reason.get(task_id) != reason:
                self.pending_reason[task_id] = reason
                self.state_dirty = True
        if placement.launches:
            with paths.queue_lock(self.root):
                for key, entry, node in placement.launches:
                    try:
                        self.launch(key, entry, node)
                    except Exception as e:
                        log(traceback.format_exc())
                        node.release(entry["id"], entry["slots"], entry["memory"])
                        if key in self.queued:
                            self._dequeue(key)
                        self.fail(entry["id"], f"the local scheduler could not start it ({e})")

    def launch(self, key: tuple, entry: dict, node: Node) -> None:
        """Start a task in a spare process and claim the task for it (the caller holds the
        queue lock).

        A task cancelled while queued has its terminal marker already (one whose folder is
        gone has no marker at all): it is skipped.
        """
        task_id = entry["id"]
        status = marker_status(self.root, task_id)
        if status == "running" and self.never_started(task_id, self.claim(task_id)):
            log(f"task {task_id}: its claim names no process that ran it: removed")
            store.remove_file(self.root.task_file(task_id, "status-running"))
            status = marker_status(self.root, task_id)
        if status in (*TERMINAL, "running", None):
            node.release(task_id, entry["slots"], entry["memory"])
            if status is None:
                log(f"task {task_id} no longer exists: dropped from the queue")
            if key in self.queued:
                self._dequeue(key)
            return
        entry["started"] = time.time()
        if entry.get("max_runtime"):
            entry["deadline"] = entry["started"] + 60 * int(entry["max_runtime"])
        cores = node.cores if entry["cores"] == "Inf" else int(entry["cores"])
        cpus = node.physical_cpus(entry["slots"])
        spare = self.take_spare()
        entry["spare_cpu"] = spare.cpu_used()
        del self.queued[key]
        self.pending_reason.pop(task_id, None)
        run = Running(entry, spare.pid, open_pidfd(spare.pid), child=True)
        self.running[task_id] = run
        self.state_dirty = True
        claim = {"pid": spare.pid, "host": socket.gethostname(), "time": entry["started"]}
        claim.update({k: entry.get(k) for k in CLAIMED})
        try:
            claimed = store.create_exclusive(
                self.root.task_file(task_id, "status-running"), json.dumps(claim)
            )
        except Exception as e:  # a full disk, a folder removed or made unwritable
            claimed = False
            run.start_error = f"its start could not be recorded ({' '.join(str(e).split())})"
        if not claimed:
            spare.refuse()
            if run.start_error is None:
                run.killed_reason = "already started elsewhere"
            return
        try:
            devices = entry.get("gpu_devices")
            alone = not self.queued  # no batch being worked through: its end is told at once
            spare.start(task_id, cores, cpus, entry["node"], entry["started"], devices, alone)
        except OSError:  # the spare was killed a moment ago: its end queues the task again
            return
        run.handed_over = True
        self.events.add(task_id)

    def take_spare(self) -> Spare:
        """The spare that has waited longest (the warmest), or (when none waits, or those
        that did were killed) a new one forked for this task.
        """
        while self.spares:
            spare = self.spares.pop(0)
            if spare.alive():
                return spare
            spare.close()  # killed meanwhile: its pipe is let go
        return Spare(self.root, ahead=False)

    def keep_spare(self) -> None:
        """Fork the next spare while there is time, so the next tasks start without a fork
        in a spare that has warmed (up to SPARES, one a call: the scheduler looks at its queue
        between them; none for FORK_RETRY seconds after a fork failed).

        The scheduler calls it when nothing runs or its loop has been quiet SPARE_DELAY,
        not as a task starts: the fork would compete with that task for the CPU.
        """
        if len(self.spares) >= SPARES or self.spare_due() > 0:
            return
        try:
            self.spares.append(Spare(self.root, ahead=True))
        except OSError:
            self.fork_failed = time.monotonic()
            raise

    def spare_due(self) -> float:
        """Seconds until a spare may be forked (0 now, inf while SPARES wait)."""
        if len(self.spares) >= SPARES:
            return math.inf
        return max(self.fork_failed + FORK_RETRY - time.monotonic(), 0.0)

    def drop_spares(self) -> None:
        """Let the spares go (the scheduler is ending)."""
        spares, self.spares = self.spares, []
        for spare in spares:
            spare.close()
