"""How the local scheduler sees its tasks end: reaping their processes, freeing their places,
recording a failure (or cancellation) when a process left no result and what the task used,
and stopping tasks past their max_runtime.
"""

from __future__ import annotations

import contextlib
import os
import time

from hipercow_magic.core.errors import TaskDied
from hipercow_magic.core.failures import TIMEOUT
from hipercow_magic.core.procs import death_reason, kill_tree, same_process
from hipercow_magic.core.status import TERMINAL
from hipercow_magic.core.task import marker_status, read_marker, write_terminal
from hipercow_magic.core.usage import Usage
from hipercow_magic.drivers.local.health import log
from hipercow_magic.drivers.local.sampler import GB, TaskUsage
from hipercow_magic.drivers.local.usage_watch import memory_limit
from hipercow_magic.node import runner


class Running:
    """A started task: its queue entry (node, slots, times), its process, and how to watch it.

    `pidfd` becomes readable when the process ends (None where the system has no pidfds: the
    scheduler polls instead); `child` is True for processes this scheduler forked (it reaps
    them), False for ones it adopted from an earlier scheduler. `start_error` says why a
    forked process was told not to run its task (its claim could not be written);
    `handed_over` is True once a forked process was sent its task (its end is then the
    task's end, whether or not the task's code began).
    `killed_reason` and `failure_class` say why the scheduler stopped it; `usage` holds
    what it used so far (going on from `previous`, figures an earlier scheduler stored) and
    `rusage` the kernel's account of a reaped child.
    """

    def __init__(
        self,
        entry: dict,
        pid: int,
        pidfd: int | None,
        child: bool,
        previous: Usage | None = None,
    ):
        self.entry = entry
        self.pid = pid
        self.pidfd = pidfd
        self.child = child
        self.killed_reason: str | None = None
        self.failure_class: str | None = None
        self.start_error: str | None = None
        self.handed_over = False
        limit = memory_limit(entry) * GB
        self.usage = TaskUsage(entry["started"], limit, previous, entry.get("spare_cpu") or 0.0)
        self.rusage = None


class TaskEnds:
    """The task-ending half of the Scheduler (a mixin: it uses the scheduler's `root`,
    `running`, `nodes`, `batches`, `state_dirty`, `events`, and its `adopt`, `fail`, `claim`,
    `never_started`, `requeue`, `_batch_done`, `parent_ended`, `guard` and `record_usage`).
    """

    @staticmethod
    def reap(run: Running) -> int | None:
        """A finished task's wait status (None for an adopted process, not ours to reap);
        the kernel's account of its resources goes to `run.rusage`.
        """
        if not run.child:
            return None
        try:
            _, status, run.rusage = os.wait4(run.pid, 0)
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
        done = True
        try:
            done = self.record_end(task_id, run, wait_status)
        finally:
            self.events.add(task_id)  # waiters look at its markers again
            self.parent_ended(task_id)  # and the tasks waiting for it are looked at
            if done:
                self._batch_done(entry.get("batch"), 1)

    def poll(self, task_id: str, run: Running) -> None:
        """Without a pidfd: finish the task if its process has ended."""
        if run.child:
            try:
                pid, status, rusage = os.wait4(run.pid, os.WNOHANG)
            except ChildProcessError:
                pid, status, rusage = run.pid, None, None
            if pid:
                run.rusage = rusage
                self.finish(task_id, status)
        elif not same_process(run.pid, run.entry["started"]):
            self.finish(task_id, None)

    def record_end(self, task_id: str, run: Running, wait_status: int | None) -> bool:
        """What a task's ended process leaves: nothing when it finished the task itself,
        else a failure (or cancellation) with its reason; a start cut short is queued again.
        A task that ran has its final usage stored.

        Returns False when the task is still to be done (queued again, or run by another
        process), True when its batch may count it finished.
        """
        code = os.waitstatus_to_exitcode(wait_status) if wait_status is not None else None
        status = marker_status(self.root, task_id)
        if status is None:
            log(f"task {task_id} no longer exists (its folder was removed while it ran)")
            return True
        if code == runner.EXIT_NOT_STARTED:
            claim = read_marker(self.root, task_id, "running")
            if run.start_error:
                self.fail(task_id, run.start_error)
            elif claim and claim.get("pid") != run.pid:
                self.adopt(task_id, claim)  # another process runs it: watch that one
                return False
            return True
        if status not in TERMINAL:
            claim = self.claim(task_id)
            stamp = run.entry.get("batch")
            cancelled = os.path.exists(self.root.task_file(task_id, "cancel-requested"))
            unstarted = not run.handed_over and self.never_started(task_id, claim)
            if stamp in self.batches and unstarted and not cancelled:
                return self.requeue(task_id, stamp)  # its process ended before running it
            self.record_failure(task_id, run, code)
        self.guard(f"recording the usage of task {task_id}", self.record_usage, task_id, run)
        return True

    def record_failure(self, task_id: str, run: Running, code: int | None) -> None:
        """Record how a task whose process left no result ended: cancelled (if asked), or
        failed, with the reason (and class) the scheduler stopped it for, else its exit.
        """
        started = run.entry.get("started")
        if os.path.exists(self.root.task_file(task_id, "cancel-requested")):
            write_terminal(self.root, task_id, "cancelled", started=started)
            return
        reason = run.killed_reason or death_reason(code)
        write_terminal(
            self.root,
            task_id,
            "failure",
            reason=reason,
            started=started,
            result={"ok": False, "error": TaskDied(reason), "traceback": ""},
            failure_class=run.failure_class,
        )

    def check_deadlines(self) -> None:
        """Kill (with all its processes) each task past its max_runtime, saying why in its log."""
        now = time.time()
        for task_id, run in list(self.running.items()):
            deadline = run.entry.get("deadline")
            if deadline and now >= deadline and run.killed_reason is None:
                minutes = run.entry["max_runtime"]
                reason = f"exceeded max_runtime of {minutes} minute{'' if minutes == 1 else 's'}"
                self.stop(task_id, run, reason, TIMEOUT)

    def stop(self, task_id: str, run: Running, reason: str, failure_class: str) -> None:
        """Kill a task with all its processes, saying why in its log; its end is then
        recorded as a failure for `reason`, of class `failure_class`. A forked task's pid is
        its own until this scheduler reaps it; an adopted one's is checked first.
        """
        if not run.child and not same_process(run.pid, run.entry.get("started") or 0):
            return  # an adopted task that has ended: its pid may be another process's now
        run.killed_reason = reason
        run.failure_class = failure_class
        with contextlib.suppress(OSError), _log(self.root, task_id) as task_log:
            print(f"\n✖ {reason}: stopping the task", file=task_log)
        kill_tree(run.pid)


def _log(root, task_id: str):
    return open(root.task_file(task_id, "log"), "a")
