"""The live widget of one task (ipywidgets 8)."""

from __future__ import annotations

import html
import time

import ipywidgets as w

from hipercow_magic.widgets.model import TaskModel, short_id
from hipercow_magic.widgets.text import tail, task_text

COLOURS = {
    "created": "#6c757d",
    "submitted": "#8a6d00",
    "running": "#0d6efd",
    "success": "#198754",
    "failure": "#dc3545",
    "cancelled": "#fd7e14",
}
PRE = (
    "margin:2px 0;padding:4px 6px;background:var(--jp-layout-color2,#f5f5f5);"
    "font-size:12px;line-height:1.3;white-space:pre-wrap;max-height:24em;overflow:auto"
)


ROW = {"margin": "0", "min_height": "0"}  # rows of text, without the default spacing
CARD = {"border": "1px solid var(--jp-border-color2, #ddd)", "padding": "4px 8px", "width": "auto"}
ERROR = "color:var(--jp-error-color1,#dc3545)"  # the theme's error colour
MUTED = "color:var(--jp-content-font-color2,#555)"  # secondary text, light or dark theme


def badge(status: str) -> str:
    """A status as a coloured pill (HTML)."""
    colour = COLOURS.get(status, "#6c757d")
    return (
        f'<span class="hipercow-badge hipercow-{status}" style="background:{colour};'
        f'color:white;border-radius:8px;padding:1px 8px;font-size:12px">{status}</span>'
    )


def problem_html(problem: str | None) -> str:
    """A model's problem as one warning line (HTML); empty when there is none."""
    return f'<span style="{ERROR}">⚠ {html.escape(problem)}</span>' if problem else ""


def pre(text: str) -> str:
    """Text as a scrolling preformatted block (HTML)."""
    return f'<pre style="{PRE}">{html.escape(text)}</pre>'


class TaskWidget(w.VBox):
    """Status badge, driver and resources, queue state, live times, log tail, outcome, buttons."""

    def __init__(self, model: TaskModel, log_lines: int = 20):
        self.model = model
        self.log_lines = log_lines
        self.header = w.HTML(layout=ROW)
        self.setup = w.HTML(layout=ROW)
        self.timing = w.HTML(layout=ROW)
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
        self.retry_button = w.Button(
            description="Retry", icon="redo", layout=w.Layout(width="auto")
        )
        self.log_button = w.Button(
            description="Full log", icon="file-text", layout=w.Layout(width="auto")
        )
        self.message = w.HTML()
        self.cancel_button.on_click(self._cancel)
        self.retry_button.on_click(self._retry)
        self.log_button.on_click(self._full_log)
        buttons = w.HBox([self.cancel_button, self.retry_button, self.log_button, self.message])
        super().__init__(
            [
                self.header,
                self.setup,
                self.timing,
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
        """Draw the model as it is now (only the parts that changed are sent)."""
        m = self.model
        with m.lock:
            name = f" <i>{html.escape(m.name)}</i>" if m.name else ""
            self._set(
                self.header, f"{badge(m.status)} <b>task <code>{short_id(m.id)}</code></b>{name}"
            )
            self._set(self.setup, f'<span style="{MUTED}">{html.escape(m.setup_text())}</span>')
            queue = m.queue_text()
            timing = " · ".join(x for x in (queue, m.timing_text(now)) if x)
            self._set(self.timing, html.escape(timing))
            captured = ""
            if m.kind in ("expression", "explicit"):
                captured = f"captured: {html.escape(m.locals_text())}"
            self._set(self.captured, captured)
            self._set(self.outcome, self._outcome_html())
            if m.log_open:
                text = m.log_text if m.log_full else tail(m.log_text, self.log_lines)
                self._set(self.log_view, pre(text or "(no log yet)"))
            active = m.status in ("submitted", "running", "created")
            self.cancel_button.disabled = not active
            self.retry_button.disabled = active
            self._set(self.problem, problem_html(m.problem))

    def _outcome_html(self) -> str:
        out = self.model.outcome()
        if out["kind"] == "error":
            trace = pre(out["traceback"]) if out["traceback"] else ""
            return (
                f'<span style="{ERROR}"><b>error:</b> {html.escape(out["text"])}'
                f"</span>{trace}<i>nothing was set in the notebook</i>"
            )
        if out["kind"] == "cancelled":
            return (
                f'<span style="color:#fd7e14">cancelled: {html.escape(out["text"])}</span>'
                " · <i>nothing was set in the notebook</i>"
            )
        if out["kind"] != "value":
            return ""
        parts = [f"<b>result:</b> <code>{html.escape(out['text'])}</code>"] if out["text"] else []
        if out["exported"]:
            parts.append(
                "set in the notebook: "
                + ", ".join(f"<code>{html.escape(n)}</code>" for n in out["exported"])
            )
        elif out["exports"] and out["export"] and out["exported"] is None:
            parts.append(
                "will set " + ", ".join(html.escape(n) for n in out["exports"]) + " between cells"
            )
        return "<br>".join(parts)

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
        self._set(self.message, "cancelling…" if ok else "could not cancel (already finished?)")
        self._rewatch()

    def _retry(self, _button) -> None:
        try:
            new_id = self.model.retry()
        except Exception as e:
            self._set(self.message, f'<span style="{ERROR}">{html.escape(str(e))}</span>')
            return
        self._set(self.message, f"retrying as <code>{short_id(new_id)}</code>")
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
