"""One background thread that refreshes every live display of the process.

Each tick makes ONE batched status query per root for all the tasks still being watched
(never one per display), hands each model its statuses, and drops models whose tasks have
finished and whose values were delivered. The thread sleeps when nothing is watched.
"""

from __future__ import annotations

import threading
import time

from hipercow_magic import api
from hipercow_magic.core.errors import error_line

FAST_PERIOD = 5.0  # seconds after a display appears during which it is refreshed quickly


class Updater:
    """Refreshes registered models every `interval` seconds (`fast_interval` when young)."""

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

    def tick(self) -> None:
        """One refresh of every watched model.

        A root whose status query fails keeps its models watched, with `problem` saying what
        failed; the next tick asks again, and a query that works clears the problem.
        """
        models = self.watched()
        now = time.time()
        by_root: dict = {}
        for model in models:
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
        young = any(time.monotonic() - m.born < FAST_PERIOD for m in self.watched())
        return self.fast_interval if young else self.interval

    def _run(self) -> None:
        while not self._stop:
            self._wake.clear()
            if not self.watched():
                with self._lock:
                    if not self._models:
                        self._thread = None
                        return
            self.tick()
            self._wake.wait(self._period())


_updater: Updater | None = None


def get_updater() -> Updater:
    """The process's one updater."""
    global _updater
    if _updater is None:
        _updater = Updater()
    return _updater
