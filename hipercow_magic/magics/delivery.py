"""Bringing a finished task's variables into the user's namespace, between cells only.

The updater thread hands over the values of a successful task; they are written into the
namespace on the shell's own thread when no cell is running: at once through an event loop
that runs only between cells (a kernel's loop, or a terminal's prompt loop), otherwise just
after the running cell ends, and at the latest just before the next cell starts.

It remembers which task's exports set each name last (`origin`), so a `%%hipercow` cell
reading a value that is still what that task exported can import it from there instead of
sending it again (see chains.py).
"""

from __future__ import annotations

import itertools
import threading
import weakref
from collections.abc import Callable

_sequence = itertools.count(1)


def next_sequence() -> int:
    """A number ordering submissions, so an older task never overwrites a newer one's values."""
    return next(_sequence)


class Delivery:
    """Queues values from background threads and sets them in `namespace` between cells."""

    def __init__(self, namespace: dict, loop=None):
        self.namespace = namespace
        self.loop = loop
        self.cell_running = False
        self._pending: list[tuple[int, dict, Callable | None]] = []
        self._lock = threading.Lock()
        self._newest: dict[str, int] = {}
        self._notices: list[str] = []
        # submission -> what it shows (with .id and .root), read as its values are set
        self._sources: weakref.WeakValueDictionary = weakref.WeakValueDictionary()
        self._origins: dict[str, tuple[str, object]] = {}  # name -> (task id, root)

    def track(self, sequence: int, source) -> None:
        """Values of submission `sequence` come from the task of `source` (a task display's
        model, or a Task): its `id` and `root` when they are set, so a display following a
        retry sets the retry's.
        """
        self._sources[sequence] = source

    def origin(self, name: str) -> tuple[str, object] | None:
        """(task id, root) of the task whose exports set `name` last, if any did (the
        notebook's value may have changed since: compare it before relying on that).
        """
        return self._origins.get(name)

    def submit(
        self, sequence: int, values: dict, done: Callable[[list[str]], None] | None = None
    ) -> None:
        """Queue `values` (from any thread); `done(names_set)` runs once they are set."""
        with self._lock:
            self._pending.append((sequence, values, done))
        if self.loop is not None and not self.loop.is_closed():
            try:
                self.loop.call_soon_threadsafe(self.flush)
            except RuntimeError:
                pass  # loop closed while shutting down: the next cell boundary delivers

    def announce(self, text: str) -> None:
        """Queue a message to print between cells (terminal IPython has no live display)."""
        with self._lock:
            self._notices.append(text)

    def deliver_now(self, sequence: int, values: dict, source=None) -> list[str]:
        """Set values from the shell's own thread (a cell waiting for its task); `source`
        is their task, when submission `sequence` is not tracked.
        """
        return self._apply(sequence, values, source)

    def deliver_queued(self, sequence: int) -> bool:
        """Set now (from the shell's thread, even mid-cell) the values queued by submission
        `sequence`; whether there were any.
        """
        with self._lock:
            mine = [p for p in self._pending if p[0] == sequence]
            self._pending = [p for p in self._pending if p[0] != sequence]
        for _, values, done in mine:
            names = self._apply(sequence, values)
            if done is not None:
                done(names)
        return bool(mine)

    def would_set(self, name: str, sequence: int) -> bool:
        """Whether values of submission `sequence` would still set `name` (no newer one has)."""
        return self._newest.get(name, 0) <= sequence

    def flush(self) -> None:
        """Set everything queued, unless a cell is running (then its end will call again)."""
        if self.cell_running:
            return
        with self._lock:
            pending, self._pending = self._pending, []
        for sequence, values, done in pending:
            names = self._apply(sequence, values)
            if done is not None:
                done(names)
        with self._lock:
            notices, self._notices = self._notices, []
        for text in notices:
            print(text)

    def _apply(self, sequence: int, values: dict, source=None) -> list[str]:
        source = source if source is not None else self._sources.get(sequence)
        origin = (source.id, source.root) if source is not None else None
        names = []
        for name, value in values.items():
            if self._newest.get(name, 0) > sequence:
                continue  # a later submission already set this name
            self._newest[name] = sequence
            self.namespace[name] = value
            if origin is None:
                self._origins.pop(name, None)
            else:
                self._origins[name] = origin
            names.append(name)
        return names

    # ---- IPython event hooks --------------------------------------------------------
    def pre_run_cell(self, *_args) -> None:
        """Before a cell: set what is queued, then hold values back until the cell ends."""
        self.flush()
        self.cell_running = True

    def post_run_cell(self, *_args) -> None:
        """After a cell: set what arrived while it ran."""
        self.cell_running = False
        self.flush()

    def pending_count(self) -> int:
        """How many tasks' values are queued, not yet set."""
        with self._lock:
            return len(self._pending)
