"""A cell waiting for its `%%hipercow` tasks: a cell that reads names a pending task will
set (put first in the cell by `reads.WaitForPending`), and a `%%hipercow --wait` cell.

While a cell waits, the task's values are held back from the between-cells delivery; the
cell sets them itself when the task succeeds. An interrupt stops the wait and the cell, never
the task: its values then arrive between cells, as if nobody had waited.
"""

from __future__ import annotations

import html
import re
import time

from IPython.display import display as show

from hipercow_magic import api
from hipercow_magic.core.errors import HipercowError, TaskWaitTimeout, error_line
from hipercow_magic.core.format import pretty_dt, short_id
from hipercow_magic.widgets.model import TaskModel, error_text

_waiters: dict[int, object] = {}  # key -> magics: the cells' wait calls find them here
LINE_REFRESH = 1.0  # seconds between updates of a notebook's waiting line
UNSET = ("failure", "cancelled")  # a task that ended so sets nothing
UPSTREAM = "upstream task "  # how the reason of a task cancelled for its dependency begins
_NAME = re.compile(r"`([^`]+)`")
_ID = re.compile(r"\btask ([0-9a-f]{8})\b")


class PendingTaskFailed(HipercowError):
    """A cell read a name that the task it waited for did not set (failed or cancelled)."""

    def __init__(self, message: str, summary: str = ""):
        super().__init__(message)
        self.summary = summary or message  # what the waiting line ends with

    def _render_traceback_(self) -> list[str]:  # IPython shows this instead of a traceback
        return [f"HipercowError: {self}"]


class WaitInterrupted(KeyboardInterrupt):
    """The user interrupted a cell's wait for a task; the task carries on."""

    def _render_traceback_(self) -> list[str]:
        return [f"KeyboardInterrupt: {self}"]


def register(key: int, magics) -> None:
    """Let the wait calls put in cells with `key` find `magics`."""
    _waiters[key] = magics


def unregister(key: int) -> None:
    """Cells transformed for `key` no longer wait (the extension was unloaded)."""
    _waiters.pop(key, None)


def wait_for_names(key: int, names: tuple[str, ...]) -> None:
    """Wait for the pending tasks that will set any of `names`, then set their values.

    Put first in a cell by the transformer; raises PendingTaskFailed when such a task
    fails or is cancelled, and WaitInterrupted when the user interrupts the wait.
    """
    magics = _waiters.get(key)
    if magics is None:
        return
    by_task: dict[TaskModel, list[str]] = {}
    setters = pending_setters(magics)
    for name in names:
        if name in setters:
            by_task.setdefault(setters[name], []).append(name)
    for model, read in sorted(by_task.items(), key=lambda item: item[0].sequence):
        _wait_for_values(magics, model, read)


def pending_setters(magics) -> dict[str, TaskModel]:
    """Each name a pending task of this session will set, with the newest such task; and
    each name missing from the notebook because the task that was to set it failed (tasks
    not submitted yet, e.g. for want of a driver, may never run: no cell waits for them).
    """
    setters: dict[str, TaskModel] = {}
    namespace = magics.shell.user_ns
    for model in sorted(magics.awaiting(), key=lambda m: m.sequence):
        if not model.export:
            continue
        if model.status in UNSET:
            names = [n for n in model.exports if n not in namespace]
        elif not model.delivered and model.status != "created":
            names = model.exports
        else:
            continue
        for name in names:
            if magics.delivery.would_set(name, model.sequence):
                setters[name] = model
    return setters


def _names_text(names: list[str]) -> str:
    quoted = [f"`{n}`" for n in names]
    return quoted[0] if len(quoted) == 1 else ", ".join(quoted[:-1]) + " and " + quoted[-1]


def _wait_for_values(magics, model: TaskModel, names: list[str]) -> None:
    sid, wanted = short_id(model.id), _names_text(names)
    if model.status in UNSET:
        raise not_set_error(model, wanted)  # it ended before this cell began
    line = WaitingLine(f"waiting for task {sid} to set {wanted}; interrupt to stop waiting")
    if not hold_values(model):
        return
    try:
        if magics.delivery.deliver_queued(model.sequence):
            return  # it had finished; its values were on their way
        line.show(magics)
        ok = _wait_task(model, line)
    except KeyboardInterrupt:
        resume_values(magics, model)
        line.finish(f"stopped waiting for task {sid}; it carries on and sets {wanted} later")
        raise WaitInterrupted(
            f"stopped waiting for task {sid}; it carries on, and sets {wanted} between cells "
            "when it succeeds"
        ) from None
    except HipercowError as e:
        resume_values(magics, model)
        line.finish(f"could not wait for task {sid}")
        raise PendingTaskFailed(
            f"could not wait for task {sid}, which sets {wanted}: {error_line(e)}"
        ) from None
    except BaseException:  # whatever stopped the wait, the values still arrive later
        resume_values(magics, model)
        raise
    take_values(magics, model, ok, export=True)
    if ok:
        line.finish(f"task {sid} set {wanted} after {pretty_dt(time.monotonic() - line.start)}")
        return
    error = not_set_error(model, wanted)
    line.finish(error.summary)
    raise error


def not_set_error(model: TaskModel, wanted: str) -> PendingTaskFailed:
    """The error for a cell reading names (`wanted`, as text) that a failed or cancelled
    task was to set.
    """
    sid = short_id(model.id)
    ended = "was cancelled" if model.status == "cancelled" else "failed"
    if model.status == "cancelled" and (model.reason or "").startswith(UPSTREAM):
        ended = f"was cancelled ({model.reason})"
    why = "" if model.status == "cancelled" else f": {outcome_line(model)}"
    return PendingTaskFailed(
        f"task {sid}, which sets {wanted}, {ended}{why}; nothing was set. See its display "
        f"above, or %hipercow retry {sid}",
        summary=f"task {sid}, which sets {wanted}, {ended}; nothing was set",
    )


def _wait_task(model: TaskModel, line: WaitingLine) -> bool:
    """Block until the task ends, refreshing the waiting line, through the attempts its
    retry policy makes; whether the last succeeded.
    """
    while True:
        waited = model.id
        try:
            ok = api.task_wait(waited, timeout=LINE_REFRESH, follow=False, root=model.root)
        except TaskWaitTimeout:
            status = api.task_status(model.id, follow=False, root=model.root)
            line.refresh(f"{status}, {pretty_dt(time.monotonic() - line.start)}")
            continue
        if ok or not _on_to_next_attempt(model, waited):
            return ok
        line.refresh(f"{model.attempt}, {pretty_dt(time.monotonic() - line.start)}")


def _on_to_next_attempt(model: TaskModel, waited: str) -> bool:
    """After task `waited` failed: whether its retry policy made another attempt, which the
    model then shows (its display may have moved on to it already).
    """
    if model.id == waited:
        newest = model.next_attempt()
        if newest is not None and model.id == waited:
            model.follow(newest)
    return model.id != waited


def outcome_line(model: TaskModel) -> str:
    """Why a finished task set nothing: its error in one line, or its reason."""
    if model.error is not None:
        return error_text(model.error)[0]
    return model.reason or model.status


def wait_for_task(magics, model: TaskModel):
    """A `%%hipercow --wait` cell: block until its task ends; set its values now (unless
    --no-export) and return its last value.
    """
    export = hold_values(model)  # the cell delivers, not the updater
    try:
        waited = model.id
        ok = api.task_wait(waited, follow=False, root=model.root)
        while not ok and _on_to_next_attempt(model, waited):
            waited = model.id
            ok = api.task_wait(waited, follow=False, root=model.root)
    except KeyboardInterrupt:
        if not export:
            print(f"ℹ Stopped waiting for task '{short_id(model.id)}'; it carries on")
            return None
        print(
            f"ℹ Stopped waiting for task '{short_id(model.id)}'; it carries on and its "
            "values arrive when it finishes"
        )
        resume_values(magics, model)
        return None
    take_values(magics, model, ok, export)
    if ok and model.has_result:
        return api.task_result(model.id, follow=False, root=model.root)
    return None


def hold_values(model: TaskModel) -> bool:
    """Keep the between-cells delivery from setting this task's values (the waiting cell
    sets them); whether they were to be set at all.
    """
    with model.lock:
        export, model.export = model.export, False
        return export and not model.delivered


def take_values(magics, model: TaskModel, ok: bool, export: bool) -> None:
    """After a held task ended: show its end, and set its values now if it succeeded and
    `export` (what `hold_values` said); if it did not, cells reading them learn why.
    """
    model.update({model.id: api.task_status(model.id, follow=False, root=model.root)}, time.time())
    if not ok:
        with model.lock:
            model.export = export
    elif export:
        values = api.task_exports(model.id, follow=False, root=model.root)
        model.mark_delivered(magics.delivery.deliver_now(model.sequence, values))
        model.notify(time.time())


def resume_values(magics, model: TaskModel) -> None:
    """Stop holding a task's values: they arrive between cells once it succeeds."""
    with model.lock:
        model.export = True
        if model.status == "success" and model.exported is None:
            values = api.task_exports(model.id, follow=False, root=model.root)
            model.delivered = False
            magics.delivery.submit(model.sequence, values, model._delivered)
    magics.keep_awaiting(model)


class WaitingLine:
    """One line saying what a cell waits for: updated in place in a notebook, printed once
    in a terminal.
    """

    def __init__(self, text: str):
        self.text = text
        self.start = time.monotonic()
        self.handle = None

    def show(self, magics) -> None:
        """Show the line: a display in a notebook, printed in a terminal."""
        if getattr(magics.shell, "kernel", None) is not None:
            self.handle = show(_bundle(self.text), raw=True, display_id=True)
        else:
            print(self.text, flush=True)

    def refresh(self, state: str) -> None:
        """Show how long it has waited so far, and the task's state."""
        if self.handle is not None:
            self.handle.update(_bundle(f"{self.text} ({state})"), raw=True)

    def finish(self, text: str) -> None:
        """Replace the line with how the wait ended (a notebook keeps this one)."""
        if self.handle is not None:
            self.handle.update(_bundle(text), raw=True)


def _bundle(text: str) -> dict:
    """The line as plain text and as HTML (ids and names as code, like the task displays)."""
    markup = _ID.sub(r"task <code>\1</code>", _NAME.sub(r"<code>\1</code>", html.escape(text)))
    style = "font-size: var(--jp-ui-font-size1); color: var(--jp-ui-font-color1)"
    return {
        "text/plain": text,
        "text/html": f'<div class="hipercow-waiting" style="{style}">{markup}</div>',
    }
