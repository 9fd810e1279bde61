"""The live widget of a bundle of tasks (one per row of `--bulk` data), which becomes a
static record once every task has ended (see `live`).
"""

from __future__ import annotations

import html
import time

import ipywidgets as w

from hipercow_magic.widgets.live import LiveDisplay
from hipercow_magic.widgets.model import BulkModel
from hipercow_magic.widgets.parts import bulk_counts, bulk_failures, bulk_record_html, bulk_title
from hipercow_magic.widgets.style import CARD, ROW, problem_html, row
from hipercow_magic.widgets.text import bulk_record_text, bulk_text


class BulkWidget(LiveDisplay, w.VBox):
    """Progress bar, counts per status, time summaries, failures, cancel-all, retry-failed."""

    def __init__(self, model: BulkModel):
        self.model = model
        self.title = w.HTML(bulk_title(model))
        self.progress = w.IntProgress(
            min=0, max=len(model.ids), value=0, bar_style="info", layout=w.Layout(width="60%")
        )
        self.progress_label = w.HTML(layout=ROW)
        self.counts = w.HTML(layout=ROW)
        self.summary = w.HTML(layout=ROW)
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
        super().__init__(
            [
                self.title,
                w.HBox([self.progress, self.progress_label]),
                self.counts,
                self.summary,
                self.failures,
                self.problem,
                w.HBox([self.cancel_button, self.retry_button, self.message]),
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
        counts = m.counts()
        done = m.finished()
        self._set(self.progress, "max", len(m.ids))
        self._set(self.progress, "value", done)
        failed = counts.get("failure", 0) + counts.get("cancelled", 0)
        style = "danger" if failed else ("success" if done == len(m.ids) else "info")
        self._set(self.progress, "bar_style", style)
        self._set(self.progress_label, "value", f"{done}/{len(m.ids)} finished")
        self._set(self.counts, "value", row(bulk_counts(m)))
        self._set(self.summary, "value", row(html.escape(m.summary_text(now))))
        self._set(self.failures, "value", row(bulk_failures(m)))
        self._set(self.problem, "value", row(problem_html(m.problem)))
        self.cancel_button.disabled = not m.active_ids()
        self.retry_button.disabled = not failed
        self.publish(now)

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

    def _cancel(self, _button) -> None:
        result = self.model.cancel_all()
        self._set(self.message, "value", f"cancelled {sum(result)} task(s)")

    def _retry(self, _button) -> None:
        from hipercow_magic.widgets.updater import get_updater

        n = self.model.retry_failed()
        self._set(self.message, "value", f"retrying {n} task(s)")
        get_updater().watch(self.model)
        self.refresh(time.time())
