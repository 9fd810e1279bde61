"""One background thread that refreshes every live display of the process.

Each tick makes ONE batched status query per root for all the tasks still being watched
(never one per display), hands each model its statuses, and drops models whose tasks have
finished and whose values were delivered. The thread sleeps when nothing is watched.
"""

from __future__ import annotations

import threading
import time

from hipercow_magic import api

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
        with self._lock:
            if model in self._models:
                self._models.remove(model)

    def watched(self) -> list:
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
        """One refresh of every watched model."""
        models = self.watched()
        now = time.time()
        by_root: dict = {}
        for model in models:
            ids = model.active_ids()
            if ids:
                by_root.setdefault(model.root, []).extend(ids)
        statuses: dict = {}
        for root, ids in by_root.items():
            ids = list(dict.fromkeys(ids))
            try:
                found = api.task_status(ids, follow=False, root=root)
            except Exception:
                continue  # a root that vanished or a driver that failed: try again next tick
            self.queries += 1
            statuses.update(zip(ids, found))
        for model in models:
            try:
                model.update(statuses, now)
            except Exception as e:
                model.problem = f"{type(e).__name__}: {e}"
                self.unwatch(model)
                continue
            if not model.live:
                self.unwatch(model)
        self.ticks += 1

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
