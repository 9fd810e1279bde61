"""What changed in a root since a client last asked: the long poll behind `/hipercow/changes`.

One watch per root, shared by every client asking about it. Its thread waits for the root's
task events (a task started or ended; drivers that can't tell are asked once per poll), then
looks: the root's task list and ONE batched status query for the tasks not yet finished. Each
look that finds a task whose status changed numbers a new version; a client passes the token
of its last answer and hears, at once or as soon as one comes, of every task that changed
since. A token of another watch (the server restarted, the watch stopped when nobody asked)
is answered at once with `changed: null`: look at everything again. A watch nobody has asked
about for `IDLE_SECONDS` stops; the next request starts a new one.
"""

from __future__ import annotations

import asyncio
import bisect
import contextlib
import secrets
import threading
import time

from hipercow_magic import api
from hipercow_magic.core.errors import error_line
from hipercow_magic.core.status import TERMINAL
from hipercow_magic.engine.events import watch_changes
from hipercow_magic.server.table import status_counts

IDLE_FACTOR = 5  # looks without an event are this many times rarer once every task finished
MIN_GAP = 0.1  # seconds at least between two looks (a burst of events makes one look)
LOOK_SHARE = 0.25  # ... and at most this share of a core spent looking during a burst
IDLE_SECONDS = 120.0  # a watch nobody asked about for this long stops
MAX_CHANGED = 1000  # an answer lists at most this many tasks; more: `changed` is null


class RootWatch:
    """The statuses of one root's tasks, looked at on every event, with what changed when."""

    def __init__(self, key: str, root, loop: asyncio.AbstractEventLoop, watches: Watches):
        self.key = key
        self.poll = watches.poll
        self.root = root
        self.epoch = secrets.token_hex(4)
        self.version = 0
        self.problem: str | None = None
        self.looks = 0
        self.asked_at = time.monotonic()
        self.waiting = 0
        self.ready = threading.Event()  # set once the first look is done
        self._loop = loop
        self._watches = watches
        self._statuses: dict[str, str | None] = {}
        self._log: list[tuple[int, str]] = []  # (version, id), versions in order
        self._floor = 0  # versions up to this one may have lost entries from the log
        self._lock = threading.Lock()
        self._waiters: set[asyncio.Future] = set()  # touched on the event loop only
        self._thread: threading.Thread | None = None

    @property
    def token(self) -> str:
        """The token naming what the watch knows now."""
        return f"{self.epoch}-{self.version}"

    def start(self) -> None:
        """Look once (what later changes are told against), then watch on a thread."""
        try:
            self.look()
            with self._lock:
                self.version, self._log = 0, []
        finally:
            self.ready.set()
        self._thread = threading.Thread(
            target=self._run, name=f"hipercow-changes-{self.key}", daemon=True
        )
        self._thread.start()

    def look(self) -> bool:
        """Look at the root's tasks (one batched query for the unfinished); whether any
        status changed since the last look.
        """
        problems: list[str] = []
        try:
            ids = api.task_list(root=self.root)
            asked = [i for i in ids if self._statuses.get(i, "") not in TERMINAL]
            found = api.task_status(asked, follow=False, root=self.root, problems=problems)
        except Exception as e:  # a root gone, a driver that can't be asked: said, kept on
            self.problem = f"can't look at the tasks: {error_line(e)}"
            return False
        self.problem = f"can't get task statuses ({'; '.join(problems)})" if problems else None
        self.looks += 1
        changed = [(i, s) for i, s in zip(asked, found) if self._statuses.get(i, "") != s]
        gone = set(self._statuses) - set(ids)
        if not changed and not gone:
            return False
        with self._lock:
            version = self.version + 1
            for task_id, status in changed:
                self._statuses[task_id] = status
                self._log.append((version, task_id))
            for task_id in gone:
                del self._statuses[task_id]
                self._log.append((version, task_id))
            cut = len(self._log) - 4 * MAX_CHANGED
            if cut > 0:
                self._floor = self._log[cut - 1][0]
                del self._log[:cut]
            self.version = version
        return True

    def answer(self, since: str | None) -> dict | None:
        """What changed after the token `since`; None when nothing did (wait for it)."""
        with self._lock:
            epoch, _, number = (since or "").partition("-")
            known = epoch == self.epoch and number.isdigit() and int(number) <= self.version
            after = int(number) if known else -1
            if known and after == self.version:
                return None
            changed = None
            if known and after >= self._floor:
                first = bisect.bisect_right(self._log, (after, "\uffff"))
                ids = list(dict.fromkeys(i for _, i in self._log[first:]))
                if len(ids) <= MAX_CHANGED:
                    changed = [{"id": i, "status": self._statuses.get(i)} for i in ids]
            return self._reply(changed)

    def now(self) -> dict:
        """What the watch knows now, with nothing said to have changed."""
        with self._lock:
            return self._reply([])

    def _reply(self, changed: list | None) -> dict:
        return {
            "token": self.token,
            "changed": changed,
            "counts": status_counts(self._statuses.values()),
            "problem": self.problem,
            "now": time.time(),
        }

    async def wait(self, token: str, timeout: float) -> None:
        """Return when a look finds a change after `token`, or after `timeout` seconds."""
        future = self._loop.create_future()
        self._waiters.add(future)
        try:
            if self.token == token:  # else a change came before the future was seen
                with contextlib.suppress(asyncio.TimeoutError):
                    await asyncio.wait_for(future, timeout)
        finally:
            self._waiters.discard(future)

    def _release(self) -> None:
        for future in list(self._waiters):
            if not future.done():
                future.set_result(None)

    def _unfinished(self) -> bool:
        with self._lock:
            return any(s not in TERMINAL for s in self._statuses.values())

    def _run(self) -> None:
        try:
            self._watch()
        except Exception as e:  # the events can't be had: said; the next request starts anew
            self.problem = f"can't watch the tasks: {error_line(e)}"
            self._watches.remove(self)
            self._loop.call_soon_threadsafe(self._release)

    def _watch(self) -> None:
        last = time.monotonic()
        spent = 0.0
        with watch_changes(self.root) as changes:
            while not self._watches.stop_if_idle(self):
                changes.wait(self.poll if self._unfinished() else self.poll * IDLE_FACTOR)
                gap = max(MIN_GAP, spent / LOOK_SHARE) - (time.monotonic() - last)
                if gap > 0:
                    time.sleep(gap)  # events meanwhile are taken by this look
                last = time.monotonic()
                found = self.look()
                spent = time.monotonic() - last
                if found:
                    self._loop.call_soon_threadsafe(self._release)


class Watches:
    """The running watches, one per root key; `poll`: seconds between looks at a root
    without an event while it has unfinished tasks.
    """

    def __init__(self, poll: float):
        self.poll = poll
        self.lock = threading.Lock()
        self._watches: dict[str, RootWatch] = {}

    def get(self, key: str, root, loop: asyncio.AbstractEventLoop) -> RootWatch:
        """The watch of `root` (started on first use, which looks once: call off the loop),
        counted as waited on until `done` is called.
        """
        with self.lock:
            watch = self._watches.get(key)
            fresh = watch is None or watch.root.path != root.path
            if fresh:
                watch = RootWatch(key, root, loop, self)
                self._watches[key] = watch
            watch.waiting += 1
            watch.asked_at = time.monotonic()
        if fresh:
            watch.start()
        watch.ready.wait()
        return watch

    def done(self, watch: RootWatch) -> None:
        """A request that waited on `watch` has been answered."""
        with self.lock:
            watch.waiting -= 1
            watch.asked_at = time.monotonic()

    def stop_if_idle(self, watch: RootWatch) -> bool:
        """Whether `watch` should stop: nobody waits on it nor asked for a while (it is
        then forgotten, so the next request starts a new one).
        """
        with self.lock:
            if watch.waiting or time.monotonic() - watch.asked_at < IDLE_SECONDS:
                return False
            self._forget(watch)
            return True

    def remove(self, watch: RootWatch) -> None:
        """Forget `watch` (its thread has stopped)."""
        with self.lock:
            self._forget(watch)

    def _forget(self, watch: RootWatch) -> None:
        if self._watches.get(watch.key) is watch:
            del self._watches[watch.key]
