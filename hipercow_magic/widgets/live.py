"""A display that is live while its work goes on and a static record once it has finished.

A live widget saved in a notebook is only a reference to a model in a kernel: reopened
without that kernel it reads "Error displaying widget: model not found". So a widget shows
itself through a display id, and when its task or bundle finishes the display is replaced in
place (`update_display`) by a record with no widget in it: HTML and plain text telling how
it ended. That record is what nbviewer, nbconvert and a notebook reopened later show. If the
model takes up new work (a retry it follows), the same display becomes live again.

A notebook runner (nbclient, nbconvert --execute) hears a display's update only while a cell
runs; one that happens between cells (values delivered then) is sent again when the next cell
starts, so the saved notebook has the last word too.
"""

from __future__ import annotations

import threading
import time
import uuid
import weakref

from IPython import get_ipython
from IPython.display import display, update_display


class _Cells:
    """Whether a cell is running, and the displays that changed while none was."""

    def __init__(self, shell):
        self.running = False
        self.lock = threading.Lock()
        self.unsettled: weakref.WeakSet = weakref.WeakSet()
        shell.events.register("pre_run_cell", self._pre_run_cell)
        shell.events.register("post_run_cell", self._post_run_cell)

    def changed(self, shown: LiveDisplay) -> None:
        """`shown` was just updated: if no cell runs, send it again when the next starts."""
        with self.lock:
            if not self.running:
                self.unsettled.add(shown)

    def _pre_run_cell(self, *_args) -> None:
        with self.lock:
            self.running = True
            unsettled, self.unsettled = list(self.unsettled), weakref.WeakSet()
        for shown in unsettled:
            shown.resend()

    def _post_run_cell(self, *_args) -> None:
        with self.lock:
            self.running = False


_cells: _Cells | None = None


def _watch_cells() -> _Cells | None:
    """The one watcher of this shell's cells (None outside IPython)."""
    global _cells
    shell = get_ipython()
    if _cells is None and shell is not None:
        _cells = _Cells(shell)
        _cells.running = True  # displays are made by a running cell
    return _cells


class LiveDisplay:
    """Mixed into a widget: shown through a display id, swapped for its record when final.

    Subclasses give `record(now)`: the record's mime bundle once the model is final, None
    while it is live; and call `publish(now)` whenever the model changed.
    """

    display_id: str | None = None
    _record: dict | None = None

    def record(self, now: float) -> dict | None:
        """The static record (a mime bundle without a widget) once final; None while live."""
        raise NotImplementedError

    def _live_bundle(self) -> dict:
        return self._repr_mimebundle_()

    def _ipython_display_(self) -> None:
        self._publish_lock = getattr(self, "_publish_lock", None) or threading.Lock()
        _watch_cells()
        with self._publish_lock:
            self.display_id = uuid.uuid4().hex
            self._record = self.record(time.time())
            display(self._record or self._live_bundle(), raw=True, display_id=self.display_id)

    def publish(self, now: float) -> None:
        """Replace the display if it changes between live and record, or its record changed."""
        if self.display_id is None:
            return
        with self._publish_lock:
            record = self.record(now)
            if record == self._record:
                return
            self._record = record
            update_display(record or self._live_bundle(), raw=True, display_id=self.display_id)
        if _cells is not None:
            _cells.changed(self)

    def resend(self) -> None:
        """Send what the display shows again (an update made between cells)."""
        with self._publish_lock:
            bundle = self._record or self._live_bundle()
            update_display(bundle, raw=True, display_id=self.display_id)

    @property
    def showing_record(self) -> bool:
        """Whether the display shows the static record (the widget itself is not shown)."""
        return self._record is not None
