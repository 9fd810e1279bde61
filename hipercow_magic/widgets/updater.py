"""One background thread that refreshes every live display of the process.

Each refresh makes ONE batched status query per root for all the tasks still being watched
(never one per display), hands each model its statuses, and drops models whose tasks have
finished and whose values were delivered. The thread sleeps when nothing is watched.

A root whose driver tells when its tasks start or end (the local driver) is asked at once
when it does: a listener per root waits for those events and wakes the thread, so a task's
display shows its end within milliseconds. A burst of events (a bundle ending) makes one
query, and queries never take more than a share of a core. The timed refresh still runs
every `interval` to move the live clocks, asking such a root again only every
`SAFETY_PERIOD` (an event lost on the way costs that long, never a wrong state). A root whose
driver can't tell (Slurm) is asked on every timed refresh, as before.
"""

from __future__ import annotations

import threading
import time

from hipercow_magic import api
from hipercow_magic.core.errors import error_line
from hipercow_magic.engine.events import watch_changes

FAST_PERIOD = 5.0  # seconds after a display appears during which it is refreshed quickly
SAFETY_PERIOD = 5.0  # seconds between queries of a root that tells of events, without one
COALESCE = 0.01  # seconds an event waits for others of the same burst before the query
QUERY_SHARE = 0.25  # at most this share of a core spent querying in a burst of events
LISTEN_PERIOD = 5.0  # seconds a listener waits before checking it is still needed


class _Listener:
    """Waits on a thread for one root's task events; tells the updater which tasks.

    A root whose driver can't tell keeps its listener (stopped, `notifies` False), which
    says to ask that root on every tick.
    """

    def __init__(self, updater: Updater, root):
        self.updater = updater
        self.root = root
        self.notifies: bool | None = None  # None until subscribed
        self.asked_at = 0.0  # monotonic time of the root's last status query
        self.thread = threading.Thread(target=self._run, name="hipercow-events", daemon=True)
        self.thread.start()

    def _run(self) -> None:
        updater = self.updater
        try:
            changes = watch_changes(self.root)
        except Exception:  # no events to be had: the root is asked on every tick
            self.notifies = False
            return
        with changes:
            self.notifies = changes.notifies
            updater.heard(self.root, None)  # subscribed: look once, nothing is missed after
            try:
                while self.notifies and updater.listening(self):
                    if changes.wait(LISTEN_PERIOD):
                        updater.heard(self.root, changes.ids)
            except Exception:  # events stopped coming: the root is asked on every tick
                self.notifies = False


class Updater:
    """Refreshes registered models every `interval` seconds (`fast_interval` when young),
    and at once when a task of theirs starts or ends on a driver that tells.
    """

    def __init__(self, interval: float = 1.0, fast_interval: float = 0.2):
        self.interval = interval
        self.fast_interval = fast_interval
        self.ticks = 0
        self.queries = 0
        self._models: list = []
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._stop = False
        self._thread: threading.Thread | None = None
        self._listeners: dict[str, _Listener] = {}
        self._heard: dict[str, set[str] | None] = {}  # root path: ids heard (None: any)

    def watch(self, model) -> None:
        """Start refreshing `model` (the thread starts on demand)."""
        with self._lock:
            if model not in self._models:
                self._models.append(model)
            if self._thread is None or not self._thread.is_alive():
                self._stop = False
                self._thread = threading.Thread(
                    target=self._run, name="hipercow-updater", daemon=True
                )
                self._thread.start()
        self._wake.set()

    def unwatch(self, model) -> None:
        """Stop refreshing `model`."""
        with self._lock:
            if model in self._models:
                self._models.remove(model)

    def watched(self) -> list:
        """The models being refreshed."""
        with self._lock:
            return list(self._models)

    def stop(self) -> None:
        """Stop the thread (displays stop changing; models stay usable)."""
        self._stop = True
        self._wake.set()
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout=5)

    # ---- events -----------------------------------------------------------------------
    def heard(self, root, ids: set[str] | None) -> None:
        """Tasks `ids` of `root` started or ended (None: any may have): refresh soon."""
        with self._lock:
            if root.path in self._heard:
                known = self._heard[root.path]
                ids = None if known is None or ids is None else known | ids
            self._heard[root.path] = ids
        self._wake.set()

    def listening(self, listener: _Listener) -> bool:
        """Whether `listener` is still needed (else it is dropped and should stop)."""
        with self._lock:
            needed = not self._stop and any(m.root.path == listener.root.path for m in self._models)
            if not needed and self._listeners.get(listener.root.path) is listener:
                del self._listeners[listener.root.path]
            return needed

    def _listen(self, models: list) -> None:
        """Start a listener for each root that has none."""
        with self._lock:
            for model in models:
                if model.root.path not in self._listeners:
                    self._listeners[model.root.path] = _Listener(self, model.root)

    def _due(self, models: list) -> set[str]:
        """The roots to ask now: those with events about a watched task, those that tell
        of none, and those not asked for `SAFETY_PERIOD`.
        """
        with self._lock:
            heard, self._heard = self._heard, {}
            listeners = dict(self._listeners)
        due = set()
        now = time.monotonic()
        for model in models:
            path = model.root.path
            listener = listeners.get(path)
            if listener is None or not listener.notifies:
                due.add(path)
            elif path in heard and (heard[path] is None or heard[path] & set(model.active_ids())):
                due.add(path)
            elif now - listener.asked_at >= SAFETY_PERIOD:
                due.add(path)
        for path in due:
            if path in listeners:
                listeners[path].asked_at = now
        return due

    # ---- refreshing --------------------------------------------------------------------
    def tick(self, roots: set[str] | None = None) -> None:
        """One refresh of every watched model: ONE batched status query per root, for the
        roots (paths) in `roots` (every root when None); models of the others only redraw.

        A root whose status query fails keeps its models watched, with `problem` saying what
        failed; the next tick asks again, and a query that works clears the problem.
        """
        models = self.watched()
        now = time.time()
        by_root: dict = {}
        for model in models:
            if roots is not None and model.root.path not in roots:
                continue
            ids = model.active_ids()
            if ids:
                by_root.setdefault(model.root, []).extend(ids)
        statuses: dict = {}
        failed: dict = {}
        answered: set = set()
        for root, ids in by_root.items():
            ids = list(dict.fromkeys(ids))
            problems: list[str] = []
            try:
                found = api.task_status(ids, follow=False, root=root, problems=problems)
            except Exception as e:  # a vanished root, an unreadable configuration, a driver
                problems.append(error_line(e))
                found = None
            if problems:
                failed[root] = (
                    f"can't get task statuses ({'; '.join(problems)}); showing the last known "
                    "state, asking again"
                )
            if found is None:
                continue
            self.queries += 1
            statuses.update(zip(ids, found))
            answered.add(root)
        for model in models:
            try:
                if model.root in failed:
                    if model.root in answered:  # what the files still tell, e.g. a task ended
                        model.update(statuses, now)
                    model.set_problem(failed[model.root], now)
                    continue
                if roots is None or model.root.path in roots:
                    model.problem = None  # the update below tells the views
                model.update(statuses, now)
            except Exception as e:
                self.unwatch(model)
                self._stopped(model, e, now)
                continue
            if not model.live:
                self.unwatch(model)
        self.ticks += 1

    @staticmethod
    def _stopped(model, error: Exception, now: float) -> None:
        """Tell the views of a model that failed to update that it no longer updates."""
        try:
            model.set_problem(f"display stopped updating: {error_line(error)}", now)
        except Exception:  # a view that fails to draw has nowhere left to show anything
            model.problem = f"display stopped updating: {error_line(error)}"

    def _period(self) -> float:
        with self._lock:
            listeners = dict(self._listeners)
        young = any(
            time.monotonic() - m.born < FAST_PERIOD
            and not getattr(listeners.get(m.root.path), "notifies", False)
            for m in self.watched()
        )
        return self.fast_interval if young else self.interval

    def _run(self) -> None:
        spent = 0.0
        while not self._stop:
            self._wake.clear()
            models = self.watched()
            if not models:
                with self._lock:
                    if not self._models:
                        self._thread = None
                        return
            self._listen(models)
            if self._heard:  # a burst of events: let it end, and pace the queries
                time.sleep(max(COALESCE, spent / QUERY_SHARE - spent))
            started = time.monotonic()
            self.tick(self._due(models))
            spent = time.monotonic() - started
            self._wake.wait(self._period())


_updater: Updater | None = None


def get_updater() -> Updater:
    """The process's one updater."""
    global _updater
    if _updater is None:
        _updater = Updater()
    return _updater
