"""How the local scheduler holds tasks that wait for others: a queued task with `after`
(the parents its submission named) is not placed until every parent succeeded; when one
fails, is cancelled or is gone, the task ends 'cancelled' with the reason (and so, in turn,
do the tasks waiting for it).

The scheduler hears of its own tasks' ends at once and of cancellations by a wake-up; the
parents it does not run (another driver's, or already ended) are looked at each time it
rescans its queue.
"""

from __future__ import annotations

from hipercow_magic.core.status import TERMINAL
from hipercow_magic.core.task import marker_status, write_terminal
from hipercow_magic.drivers.base import upstream_reason
from hipercow_magic.drivers.local.health import log


class Holds:
    """The dependency half of the Scheduler (a mixin: it uses the scheduler's `root`,
    `queued`, `running`, `events`, `state_dirty`, `waiting_on`, `to_check` and `_dequeue`).
    """

    def hold(self, key: tuple, entry: dict) -> None:
        """Keep a queued task from being placed until its parents (`entry["after"]`) succeed."""
        for parent in entry["after"]:
            self.waiting_on.setdefault(parent, set()).add(key)
            self.to_check.add(parent)

    def parent_ended(self, task_id: str) -> None:
        """A task of this scheduler ended: the tasks waiting for it are looked at next."""
        if task_id in self.waiting_on:
            self.to_check.add(task_id)

    def check_holds(self, everything: bool = False, elsewhere: bool = False) -> None:
        """Release the held tasks whose parents all succeeded, and end those one of whose
        parents did not. The parents looked at are those heard to end; with `everything`
        (a cancellation was announced), every one; with `elsewhere` (a rescan), those this
        scheduler does not run too.
        """
        if not self.waiting_on:
            return
        if everything:
            self.to_check |= set(self.waiting_on)
        elif elsewhere:
            here = {entry["id"] for entry in self.queued.values()} | set(self.running)
            self.to_check |= {p for p in self.waiting_on if p not in here}
        while self.to_check:
            parent = self.to_check.pop()
            keys = self.waiting_on.get(parent)
            if keys is None:
                continue
            status = marker_status(self.root, parent)
            if status != "success" and status not in (*TERMINAL, None):
                continue
            del self.waiting_on[parent]
            for key in keys:
                entry = self.queued.get(key)
                if entry is None:
                    continue
                if status == "success":
                    entry["after"] = [p for p in entry["after"] if p != parent]
                    self.state_dirty = True
                else:
                    self.end_held(key, entry, upstream_reason(self.root, [parent]))

    def end_held(self, key: tuple, entry: dict, reason: str) -> None:
        """End a held task 'cancelled' with the reason its parent gives; the tasks waiting
        for it are looked at next.
        """
        task_id = entry["id"]
        for parent in entry["after"]:
            waiting = self.waiting_on.get(parent)
            if waiting is not None:
                waiting.discard(key)
        self._dequeue(key)
        log(f"task {task_id}: {reason}")
        try:
            write_terminal(self.root, task_id, "cancelled", reason=reason)
        except OSError as e:  # a full disk: status lookups end it when they can
            log(f"task {task_id}: could not record its end ({e})")
        self.events.add(task_id)
        self.parent_ended(task_id)
