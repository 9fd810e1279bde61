"""The live widget of a bundle of tasks (one per row of `--bulk` data), which becomes a
static record once every task has ended (see `live`).
"""

from __future__ import annotations

import time

import ipywidgets as w

from hipercow_magic.core.errors import HipercowError, error_line
from hipercow_magic.widgets.bundle_table import BundleTable
from hipercow_magic.widgets.live import LiveDisplay
from hipercow_magic.widgets.model import BulkModel
from hipercow_magic.widgets.parts import (
    USAGE_TITLE,
    bulk_bar,
    bulk_counts,
    bulk_failures,
    bulk_record_html,
    bulk_times,
    bulk_title,
    bulk_usage,
    bulk_usage_chart,
)
from hipercow_magic.widgets.style import CARD, ROW, problem_html, row
from hipercow_magic.widgets.text import bulk_record_text, bulk_text
from hipercow_magic.widgets.timeline import timeline_html

TIMELINE_PERIOD = 2.0  # seconds between redrawing an open timeline while tasks run


class BulkWidget(LiveDisplay, w.VBox):
    """A bar stacked by state with counts, times and ETA, the failures by parameters,
    cancel-all and retry-failed, the table of tasks and (folded) their timeline.
    """

    def __init__(self, model: BulkModel):
        self.model = model
        self.title = w.HTML(bulk_title(model))
        self.bar = w.HTML(layout=ROW)
        self.counts = w.HTML(layout=ROW)
        self.summary = w.HTML(layout=ROW)
        self.usage = w.HTML(layout=ROW)
        self.failures = w.HTML(layout=ROW)
        self.problem = w.HTML(layout=ROW)
        self.cancel_button = w.Button(
            description="Cancel all", icon="stop", layout=w.Layout(width="auto")
        )
        self.retry_button = w.Button(
            description="Retry failed", icon="redo", layout=w.Layout(width="auto")
        )
        self.message = w.HTML()
        self.cancel_button.on_click(self._cancel)
        self.retry_button.on_click(self._retry)
        self.table = BundleTable(model, self._acted)
        self.timeline = w.HTML(layout=ROW)
        self.timeline_fold = w.Accordion(children=[self.timeline], titles=("timeline",))
        self.timeline_fold.selected_index = None
        self.timeline_fold.observe(lambda _c: self._draw_timeline(time.time()), "selected_index")
        self._timeline_at = 0.0
        self.chart = w.HTML(layout=ROW)
        self.chart_fold = w.Accordion(children=[self.chart], titles=(USAGE_TITLE,))
        self.chart_fold.selected_index = None
        self.chart_fold.observe(lambda _c: self._draw_chart(), "selected_index")
        super().__init__(
            [
                self.title,
                self.bar,
                self.counts,
                self.summary,
                self.usage,
                self.failures,
                self.problem,
                w.HBox([self.cancel_button, self.retry_button, self.message]),
                self.table,
                self.timeline_fold,
                self.chart_fold,
            ],
            layout=CARD,
        )
        self.add_class("hipercow-bulk")
        self._shown: dict = {}
        self.refresh(time.time())
        model.on_change(self.refresh)

    def _set(self, widget, name: str, value) -> None:
        key = (id(widget), name)
        if self._shown.get(key) != value:
            self._shown[key] = value
            setattr(widget, name, value)

    def refresh(self, now: float) -> None:
        """Draw the model as it is now (only the parts that changed are sent)."""
        m = self.model
        self._set(self.title, "value", bulk_title(m))
        self._set(self.bar, "value", row(bulk_bar(m)))
        self._set(self.counts, "value", row(bulk_counts(m)))
        self._set(self.summary, "value", row(bulk_times(m, now)))
        self._set(self.usage, "value", row(bulk_usage(m)))
        self._set(self.failures, "value", row(bulk_failures(m)))
        self._set(self.problem, "value", row(problem_html(m.problem)))
        self.cancel_button.disabled = not m.active_ids()
        self.retry_button.disabled = not m.failures()
        self.table.refresh(now)
        if time.monotonic() - self._timeline_at > TIMELINE_PERIOD or not m.active_ids():
            self._draw_timeline(now)
            self._draw_chart()
        self.publish(now)

    def _draw_timeline(self, now: float) -> None:
        """Draw the timeline, only while it is open (closed, it costs nothing)."""
        if self.timeline_fold.selected_index is None:
            return
        self._timeline_at = time.monotonic()
        self._set(self.timeline, "value", timeline_html(self.model.summaries(), now))

    def _draw_chart(self) -> None:
        """Draw what each task used, only while it is open (closed, it costs nothing)."""
        if self.chart_fold.selected_index is not None:
            self._set(self.chart, "value", bulk_usage_chart(self.model))

    def record(self, now: float) -> dict | None:
        """The bundle's static record once every task has ended; None until then."""
        if self.model.active_ids():
            return None
        return {
            "text/html": bulk_record_html(self.model, now),
            "text/plain": bulk_record_text(self.model, now),
        }

    def _repr_mimebundle_(self, **kwargs):
        data = super()._repr_mimebundle_(**kwargs)
        data["text/plain"] = bulk_text(self.model)
        return data

    def _acted(self, message: str) -> None:
        """A button acted on tasks: say what it did, and follow the tasks again."""
        from hipercow_magic.widgets.updater import get_updater

        self._set(self.message, "value", message)
        get_updater().watch(self.model)
        self.refresh(time.time())

    def _act(self, verb: str, done: str, action) -> None:
        """Run a button's `action` (it returns how many tasks it acted on); say what it did
        ('<done> N task(s)') or, when it can't act, why.
        """
        try:
            n = action()
        except HipercowError as e:
            self._acted(f"can't {verb}: {error_line(e)}")
            return
        self._acted(f"{done} {n} task(s)")

    def _cancel(self, _button) -> None:
        self._act("cancel", "cancelled", lambda: sum(self.model.cancel_all()))

    def _retry(self, _button) -> None:
        self._act("retry", "retrying", self.model.retry_failed)
