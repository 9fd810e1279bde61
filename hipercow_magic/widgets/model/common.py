"""What every live display's model shares: the views it tells, the problem it reports."""

from __future__ import annotations

import threading
import time

FOLLOW_UP_PERIOD = 0.5  # seconds between looks for what comes after a task's end


def value_repr(value, limit: int = 2000) -> str:
    """`repr(value)`, cut at `limit` characters; a failing repr is described, never raised."""
    try:
        text = repr(value)
    except Exception as e:  # a repr that fails should not break the display
        text = f"<{type(value).__name__} (repr failed: {e})>"
    return text if len(text) <= limit else text[:limit] + " [...]"


def error_text(error) -> tuple[str, str]:
    """(one line, node traceback) for a task's exception."""
    line = f"{type(error).__name__}: {error}"
    if type(error).__name__ == "TaskFailed":
        line = str(error)
    trace = getattr(error, "node_traceback", None) or getattr(error, "traceback", "") or ""
    return line, trace


class Model:
    """Something the updater refreshes; views subscribe with `on_change`.

    `problem` says, in one line, what keeps the display from being current (a status query
    that failed, an update that broke); None while all is well. Views show it.
    """

    def __init__(self, root):
        self.root = root
        self._views = []
        self.lock = threading.RLock()
        self.born = time.monotonic()
        self.problem: str | None = None
        self._follow_up: threading.Timer | None = None

    def on_change(self, callback) -> None:
        """Call `callback(now)` whenever the model changes."""
        self._views.append(callback)

    def notify(self, now: float) -> None:
        """Tell every view the model changed."""
        for view in list(self._views):
            view(now)

    def set_problem(self, problem: str | None, now: float) -> None:
        """Say what keeps the display from being current (None: nothing); views hear of it."""
        if problem != self.problem:
            self.problem = problem
            self.notify(now)

    def follow_up(self, step, period: float = FOLLOW_UP_PERIOD) -> None:
        """Call `step()` (under the lock) every `period` seconds on a timer, until it
        returns False, telling the views after each call: for what comes after a task's
        end (its final figures), when the updater may have let the model go. One at a time.
        """
        if self._follow_up is not None and self._follow_up.is_alive():
            return

        def run() -> None:
            with self.lock:
                again = step()
            self.notify(time.time())
            if again:
                self._follow_up = None
                self.follow_up(step, period)

        self._follow_up = threading.Timer(period, run)
        self._follow_up.daemon = True
        self._follow_up.start()

    def active_ids(self) -> list[str]:
        """The ids whose statuses the updater should still ask about."""
        raise NotImplementedError

    def update(self, statuses: dict[str, str | None], now: float) -> None:
        """Take the statuses of one batched query (ids absent: not asked this time)."""
        raise NotImplementedError

    @property
    def live(self) -> bool:
        """Whether the updater still needs to refresh this model."""
        return bool(self.active_ids())
