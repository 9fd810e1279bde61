"""The live widget of one task (ipywidgets 8), which becomes a static record when it ends.

While the task waits or runs: badge, set-up, the scheduler's view and live times, the log in
an accordion, and Cancel / Full log buttons. Once it has ended the display is replaced in
place by its record (see `live`): the same facts, the traceback, the log's tail and the lines
that show it again, show its whole log or retry it (the buttons have nothing left to do; a
record stays readable once the kernel is gone). A retry made with `%hipercow retry` is
followed by the same display, live again until the retry ends.
"""

from __future__ import annotations

import time

import ipywidgets as w

from hipercow_magic.core.status import TERMINAL
from hipercow_magic.widgets.live import LiveDisplay
from hipercow_magic.widgets.model import TaskModel
from hipercow_magic.widgets.parts import (
    attempt_html,
    note_html,
    task_captured,
    task_header,
    task_outcome,
    task_record_html,
    task_setup,
    task_timing,
    task_usage,
)
from hipercow_magic.widgets.style import CARD, ROW, pre, problem_html, row
from hipercow_magic.widgets.text import tail, task_record_text, task_text

CANCELLING = "cancelling…"


class TaskWidget(LiveDisplay, w.VBox):
    """Status badge, driver and resources, queue state, live times, log tail, outcome, buttons."""

    def __init__(self, model: TaskModel, log_lines: int = 20):
        self.model = model
        self.log_lines = log_lines
        self.header = w.HTML(layout=ROW)
        self.note = w.HTML(layout=ROW)
        self.attempt = w.HTML(layout=ROW)
        self.setup = w.HTML(layout=ROW)
        self.timing = w.HTML(layout=ROW)
        self.usage = w.HTML(layout=ROW)
        self.captured = w.HTML(layout=ROW)
        self.outcome = w.HTML(layout=ROW)
        self.problem = w.HTML(layout=ROW)
        self.log_view = w.HTML()
        self.log_box = w.Accordion(children=[self.log_view], selected_index=None)
        self.log_box.set_title(0, "Log")
        self.log_box.observe(self._toggle_log, names="selected_index")
        self.cancel_button = w.Button(
            description="Cancel", icon="stop", layout=w.Layout(width="auto")
        )
        self.log_button = w.Button(
            description="Full log", icon="file-text", layout=w.Layout(width="auto")
        )
        self.message = w.HTML()
        self.cancel_button.on_click(self._cancel)
        self.log_button.on_click(self._full_log)
        buttons = w.HBox([self.cancel_button, self.log_button, self.message])
        super().__init__(
            [
                self.header,
                self.note,
                self.attempt,
                self.setup,
                self.timing,
                self.usage,
                self.captured,
                self.outcome,
                self.problem,
                self.log_box,
                buttons,
            ],
            layout=CARD,
        )
        self.add_class("hipercow-task")
        self._shown: dict = {}
        self.refresh(time.time())
        model.on_change(self.refresh)

    # ---- rendering ------------------------------------------------------------------
    def _set(self, widget, value) -> None:
        """Send a value to the front end only when it changed."""
        if self._shown.get(id(widget)) != value:
            self._shown[id(widget)] = value
            widget.value = value

    def refresh(self, now: float) -> None:
        """Draw the model as it is now (only the parts that changed are sent); once the task
        has ended, the display becomes its record.
        """
        m = self.model
        with m.lock:
            self._set(self.header, row(task_header(m)))
            self._set(self.note, row(note_html(m.note)))
            self._set(self.attempt, row(attempt_html(m)))
            self._set(self.setup, row(task_setup(m, now)))
            self._set(self.timing, row(task_timing(m, now)))
            self._set(self.usage, row(task_usage(m)))
            self._set(self.captured, row(task_captured(m)))
            self._set(self.outcome, row(task_outcome(m)))
            if m.log_open:
                text = m.log_text if m.log_full else tail(m.log_text, self.log_lines)
                self._set(self.log_view, pre(text or "(no log yet)"))
            active = m.status in ("submitted", "running", "created")
            self.cancel_button.disabled = not active or m.cancelling
            self._set(self.problem, row(problem_html(m.problem)))
            if self._shown.get(id(self.message)) == CANCELLING and not m.cancelling:
                self._set(self.message, "")  # the badge says cancelled now
        self.publish(now)

    def record(self, now: float) -> dict | None:
        """The task's static record once it has ended (updated when its values are set);
        None while it waits or runs.
        """
        m = self.model
        with m.lock:
            if m.status not in TERMINAL or not m.result_ready:
                return None
            return {"text/html": task_record_html(m, now), "text/plain": task_record_text(m, now)}

    def _repr_mimebundle_(self, **kwargs):
        data = super()._repr_mimebundle_(**kwargs)
        data["text/plain"] = task_text(self.model)
        return data

    # ---- actions --------------------------------------------------------------------
    def _toggle_log(self, change) -> None:
        with self.model.lock:
            self.model.log_open = change["new"] == 0
            if self.model.log_open:
                self.model.read_log()
        self.refresh(time.time())

    def _cancel(self, _button) -> None:
        ok = self.model.cancel()
        self._set(self.message, CANCELLING if ok else "could not cancel (already finished?)")
        self._rewatch()

    def _full_log(self, _button) -> None:
        with self.model.lock:
            self.model.log_full = True
            self.model.log_open = True
            self.model.read_log()
        self.log_box.selected_index = 0
        self.refresh(time.time())

    def _rewatch(self) -> None:
        from hipercow_magic.widgets.updater import get_updater

        get_updater().watch(self.model)
        self.refresh(time.time())
