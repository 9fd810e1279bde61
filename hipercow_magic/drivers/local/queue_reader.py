"""How the local scheduler reads its queue: each batch file and each task of it on its own,
refusing (with a reason) what it can't or mustn't run, adopting what an earlier scheduler
started, and queueing again a start an earlier scheduler cut short.
"""

from __future__ import annotations

import contextlib
import os
import traceback

from hipercow_magic.core import store
from hipercow_magic.core.procs import same_process
from hipercow_magic.core.status import TERMINAL
from hipercow_magic.core.task import marker_status, read_marker
from hipercow_magic.drivers.local import intake, paths
from hipercow_magic.drivers.local.health import log


class QueueReader:
    """The queue-reading half of the Scheduler (a mixin: it uses the scheduler's `root`,
    `uid`, `cluster`, `batches`, `refused`, `left_alone`, `queued`, `running`,
    `pending_reason`, `state_dirty`, and its `adopt`, `fail` and `hold`).
    """

    def claim(self, task_id: str) -> dict:
        """A task's status-running claim ({} when missing, empty or unreadable)."""
        claim = read_marker(self.root, task_id, "running")
        return claim if isinstance(claim, dict) else {}

    def never_started(self, task_id: str, claim: dict) -> bool:
        """Whether a claim is one a scheduler made whose process never ran the task: empty
        (its writer died), or naming a process that ended before opening the task's log.
        """
        if not claim or "pid" not in claim or "time" not in claim:
            return True
        return (
            "node" in claim
            and not same_process(claim["pid"], claim["time"])
            and not os.path.exists(self.root.task_file(task_id, "log"))
        )

    def scan_queue(self, recheck: bool = False) -> None:
        """Read new batch files; with `recheck`, drop queued tasks that were cancelled."""
        for name in sorted(os.listdir(paths.queue_dir(self.root))):
            stamp = paths.batch_stamp(name)
            if stamp is None or stamp in self.batches or stamp in self.refused:
                continue
            try:
                self.read_batch(stamp)
            except Exception as e:
                self.refused.add(stamp)
                log(f"queue file {name} not read: {type(e).__name__}: {e}")
        if recheck:
            for key, entry in list(self.queued.items()):
                if marker_status(self.root, entry["id"]) in (*TERMINAL, None):
                    self._dequeue(key)

    def read_batch(self, stamp: str) -> None:
        """Queue (or adopt) the tasks of one batch file, each on its own."""
        try:
            batch, ids = intake.read_batch(self.root, stamp)
        except intake.Refused as e:
            self.refuse(stamp, str(e), e.ids)
            return
        if batch is None:
            return
        self.batches[stamp] = 1  # held until every task is read (a dead one may end now)
        for index, task_id in enumerate(ids):
            self.batches[stamp] += 1
            try:
                counted = self.take(stamp, index, task_id, batch["resources"], batch.get("after"))
            except Exception as e:
                log(traceback.format_exc())
                self.fail(task_id, f"the local scheduler could not queue it ({e})")
                counted = False
            if not counted:
                self.batches[stamp] -= 1
        self.state_dirty = True
        self._batch_done(stamp, 1)

    def refuse(self, stamp: str, reason: str, ids: list[str]) -> None:
        """A queue file that won't be run: logged, its own user's tasks failed with the
        reason (others' left alone), and, when it is this user's, set aside as `.refused-`.
        """
        self.refused.add(stamp)
        log(reason)
        for task_id in ids:
            if marker_status(self.root, task_id) != "submitted":
                continue
            if intake.task_owner(self.root, task_id) == self.uid:
                self.fail(task_id, f"not run: {reason}")
            else:
                self.left_alone[task_id] = reason
                self.state_dirty = True
        path = paths.batch_file(self.root, stamp)
        name = os.path.basename(path)
        with contextlib.suppress(OSError):
            if os.stat(path).st_uid == self.uid:
                os.replace(path, os.path.join(os.path.dirname(path), ".refused-" + name))

    def take(
        self, stamp: str, index: int, task_id: str, resources: dict, after: list | None = None
    ) -> bool:
        """Queue or adopt one task of a batch; False when there is nothing left to do.
        A task that waits for others (`after`) is held until they succeed.
        """
        status = marker_status(self.root, task_id)
        if status is None:
            log(f"task {task_id} no longer exists (named in queue file {stamp}): dropped")
            return False
        if status in TERMINAL:
            return False
        owner = intake.task_owner(self.root, task_id)
        if owner != self.uid:
            reason = (
                f"task {task_id} belongs to uid {owner}, not to this scheduler's user "
                f"(uid {self.uid}): not run"
            )
            log(reason)
            self.left_alone[task_id] = reason
            self.state_dirty = True
            return False
        if status == "running":
            if task_id in self.running:
                return True
            claim = self.claim(task_id)
            if not self.never_started(task_id, claim):
                self.adopt(task_id, claim)
                return True
            log(f"task {task_id}: its start was cut short before it ran: queued again")
            store.remove_file(self.root.task_file(task_id, "status-running"))
        entry = {**resources, "id": task_id, "batch": stamp}
        self.cluster.candidates(entry)  # a queue or node it can't name fails here
        self.queued[(stamp, index)] = entry
        if after:
            entry["after"] = list(after)
            self.hold((stamp, index), entry)
        return True

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

    def requeue(self, task_id: str, stamp: str) -> bool:
        """Queue again a task whose start an earlier scheduler cut short (it died between
        claiming the task and letting its process run it); False once queued.
        """
        log(f"task {task_id}: its start was cut short before it ran: queued again")
        store.remove_file(self.root.task_file(task_id, "status-running"))
        batch, ids = intake.read_batch(self.root, stamp)
        if batch is None or task_id not in ids:
            self.fail(task_id, f"its start was cut short and its queue file {stamp} is gone")
            return True
        key = (stamp, ids.index(task_id))
        self.queued[key] = {**batch["resources"], "id": task_id, "batch": stamp}
        return False
