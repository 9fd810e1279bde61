"""A display that is live while its work goes on and a static record once it has finished.

A live widget saved in a notebook is only a reference to a model in a kernel: reopened
without that kernel it reads "Error displaying widget: model not found". So a widget shows
itself through a display id, and when its task or bundle finishes the display is replaced in
place (`update_display`) by a record with no widget in it: HTML and plain text telling how
it ended. That record is what nbviewer, nbconvert and a notebook reopened later show. If the
model takes up new work (a retry it follows), the same display becomes live again.
"""

from __future__ import annotations

import threading
import time
import uuid

from IPython.display import display, update_display


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

    @property
    def showing_record(self) -> bool:
        """Whether the display shows the static record (the widget itself is not shown)."""
        return self._record is not None
