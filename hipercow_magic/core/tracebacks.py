"""A task's traceback: written on the node as plain text that starts and ends in the user's
code, and shown coloured as IPython colours a local one (HTML for notebooks, ANSI for
terminals).

On the node, `user_traceback` leaves out hipercow-magic's own frames (the runner, the pool and
its workers) and the library plumbing they call (concurrent.futures, multiprocessing,
cloudpickle, runpy); an error a pool worker sent back carries the worker's frames
(`worker_traceback`, as a `RemoteTraceback` cause), which are shown beneath the task's.
"""

from __future__ import annotations

import functools
import os
import re
import site
import traceback

import cloudpickle

from hipercow_magic.core.errors import HipercowError

_PACKAGE = os.path.dirname(os.path.dirname(os.path.abspath(__file__))) + os.sep
_STDLIB = os.path.dirname(os.path.abspath(os.__file__)) + os.sep
_PLUMBING = (
    *(
        _STDLIB + name
        for name in ("concurrent" + os.sep, "multiprocessing" + os.sep, "threading.py")
    ),
    *(_STDLIB + name for name in ("runpy.py", "pickle.py", "copyreg.py", "queue.py")),
    os.path.dirname(os.path.abspath(cloudpickle.__file__)) + os.sep,
    "<frozen ",
)


@functools.cache
def _libraries() -> tuple[str, ...]:
    """Where installed libraries live (the standard library's and site-packages' folders)."""
    import sysconfig  # only for an error a worker sent back

    return (
        *{os.path.join(sysconfig.get_paths()[k], "") for k in ("stdlib", "purelib", "platlib")},
        os.path.join(site.getusersitepackages(), ""),
        "<frozen ",
    )


HEADER = "Traceback (most recent call last):\n"
CAUSE = "\nThe above exception was the direct cause of the following exception:\n\n"
CONTEXT = "\nDuring handling of the above exception, another exception occurred:\n\n"


class RemoteTraceback(Exception):
    """The traceback of an error raised in a worker, attached as the cause of the error it
    sent back.

    Args:
        text: the worker's whole traceback, as `user_traceback` writes it.
        before: the worker's exceptions that led to this one (their tracebacks), or ''.
        frames: the worker's frames of this error, formatted.
        where: which worker, as the line that introduces its frames says.
    """

    def __init__(self, text: str, before: str = "", frames: str = "", where: str = "a worker"):
        super().__init__(text, before, frames, where)
        self.text, self.before, self.frames, self.where = text, before, frames, where

    def __str__(self) -> str:
        return f'\n"""\n{self.text}"""'


def _user_frames(stack: traceback.StackSummary, error: BaseException) -> traceback.StackSummary:
    """The frames of `stack` without hipercow-magic's and the plumbing those call; all of them
    when none would be left for an error that is not a HipercowError (a fault of ours).
    """
    kept, after_ours = [], False
    for frame in stack:
        if frame.filename.startswith(_PACKAGE):
            after_ours = True
        elif not (after_ours and frame.filename.startswith(_PLUMBING)):
            kept.append(frame)
            after_ours = False
    if not kept and not isinstance(error, HipercowError):
        return stack
    return traceback.StackSummary.from_list(kept)


def _trimmed(stack: traceback.StackSummary, leading: bool) -> traceback.StackSummary:
    """`stack` without the frames of installed libraries at its start (`leading`) or its end:
    those that carry a job to a worker (joblib, for one) or bring its error back
    (concurrent.futures); unchanged when nothing else is there.
    """
    frames = list(stack)
    end = 0 if leading else -1
    while frames and frames[end].filename.startswith(_libraries()):
        frames.pop(end)
    return traceback.StackSummary.from_list(frames) if frames else stack


def _chain(error: BaseException) -> list[tuple]:
    """The exceptions Python would show for `error`, oldest first, as (exception, its
    RemoteTraceback or None, the line that leads to the next one).
    """
    links, seen, joint = [], set(), ""
    while error is not None and id(error) not in seen:
        seen.add(id(error))
        cause, remote = error.__cause__, None
        if isinstance(cause, RemoteTraceback):
            cause, remote = None, cause
        links.append((error, remote, joint))
        if cause is not None:
            error, joint = cause, CAUSE
        elif remote is None and error.__context__ is not None and not error.__suppress_context__:
            error, joint = error.__context__, CONTEXT
        else:
            error = None
    return links[::-1]


def _exception(error: BaseException) -> traceback.TracebackException:
    te = traceback.TracebackException(type(error), error, error.__traceback__, compact=True)
    te.stack = _user_frames(te.stack, error)
    return te


def _block(error: BaseException, remote: RemoteTraceback | None) -> str:
    te = _exception(error)
    if remote is None:
        return "".join(te.format(chain=False))
    return (
        remote.before
        + HEADER
        + "".join(_trimmed(te.stack, leading=False).format())
        + f"  ── in {remote.where} ──\n"
        + remote.frames
        + "".join(te.format_exception_only())
    )


def user_traceback(error: BaseException) -> str:
    """The error's traceback as plain text, as Python writes it but with only the user's
    frames: hipercow-magic's own (and the plumbing they call) are left out, and the frames
    of an error a pool worker sent back follow the task's, under a line naming the worker.
    """
    return "".join(_block(e, remote) + joint for e, remote, joint in _chain(error))


def worker_traceback(error: BaseException, where: str) -> dict:
    """What a worker sends back with an error: the keyword arguments of `RemoteTraceback`."""
    links = _chain(error)
    before = "".join(_block(e, remote) + joint for e, remote, joint in links[:-1])
    frames = "".join(_trimmed(_exception(links[-1][0]).stack, leading=True).format())
    return {"text": user_traceback(error), "before": before, "frames": frames, "where": where}


# ---- colours ---------------------------------------------------------------------------
# IPython's default ('Neutral') scheme for tracebacks: file names and line numbers green,
# function names purple, the exception's name red; the message is bold here.
_ANSI = {"file": "32", "line": "32", "name": "35", "exc": "31", "msg": "1", "dim": "2"}
_CSS = {
    "file": "color:var(--jp-ansi-green, #00a250)",
    "line": "color:var(--jp-ansi-green, #00a250)",
    "name": "color:var(--jp-ansi-magenta, #d160c4)",
    "exc": "color:var(--jp-ansi-red, #e75c58);font-weight:bold",
    "msg": "font-weight:bold",
    "dim": "color:var(--jp-content-font-color2, #757575)",
}
_FRAME = re.compile(r'^(\s*File ")(.*)(", line )(\d+)(?:(, in )(.*))?$')
_EXCEPTION = re.compile(r"^([A-Za-z_][\w.]*)(?:(: )(.*))?$")
_JOINTS = {CAUSE.strip(), CONTEXT.strip()}


def _exception_line(line: str) -> list[tuple[str | None, str]]:
    match = _EXCEPTION.match(line)
    if not match:
        return [("msg", line)]
    name, colon, message = match.groups()
    return [("exc", name)] + ([(None, colon), ("msg", message)] if colon else [])


def _parts(text: str) -> list[tuple[str, list[tuple[str | None, str]]]]:
    """Each line of a traceback as (what it is, its (style or None, text) pieces): frames
    (file, line, name), the exception's name ('exc') and message ('msg'), the line naming a
    worker ('dim').
    """
    out = []
    state = "start"  # start (before a block) | frames | message
    for line in text.splitlines():
        if state == "start" and line == HEADER[:-1]:
            out.append(("header", [(None, line)]))
            state = "frames"
        elif state == "frames" and (match := _FRAME.match(line)):
            file_, name, line_, number, in_, function = match.groups()
            pieces = [(None, file_), ("file", name), (None, line_), ("line", number)]
            out.append(("frame", pieces + ([(None, in_), ("name", function)] if in_ else [])))
        elif state == "frames" and line.startswith("  ── in "):
            out.append(("worker", [("dim", line)]))
        elif state == "frames" and line.startswith(("    ", "  [")):
            out.append(("source", [(None, line)]))
        elif state == "message" and line in _JOINTS:
            out.append(("joint", [(None, line)]))
            state = "start"
        elif state == "start" and not line.strip():
            out.append(("blank", [(None, line)]))
        elif state != "message":
            out.append(("exception", _exception_line(line)))
            state = "message"
        else:
            out.append(("message", [("msg", line)]))
    return out


def exception_lines(text: str) -> str:
    """The last exception's own lines of a traceback ('ValueError: bad value'), or ''."""
    parts = _parts(text)
    starts = [i for i, (kind, _) in enumerate(parts) if kind == "exception"]
    return "\n".join(text.splitlines()[starts[-1] :]).rstrip() if starts else ""


def traceback_ansi(text: str) -> str:
    """A node's traceback coloured for a terminal, as IPython colours a local one."""
    return "\n".join(
        "".join(f"\x1b[{_ANSI[s]}m{t}\x1b[0m" if s and t else t for s, t in line)
        for _, line in _parts(text)
    ) + ("\n" if text.endswith("\n") else "")


def _html_lines(text: str) -> str:
    import html  # only where a traceback is shown, never on a node

    return "\n".join(
        "".join(
            f'<span style="{_CSS[s]}">{html.escape(t)}</span>' if s and t else html.escape(t)
            for s, t in line
        )
        for _, line in _parts(text)
    )


def traceback_html(text: str) -> str:
    """A node's traceback as an HTML block for widgets and saved notebooks: coloured as
    IPython colours a local one (JupyterLab's colours, with fallbacks so it reads anywhere),
    the exception's line first, then the whole traceback in a box that starts scrolled to
    its end.
    """
    font = (
        "font-family:var(--jp-code-font-family, monospace);"
        "font-size:var(--jp-code-font-size, 13px);line-height:var(--jp-code-line-height, 1.3)"
    )
    pre = (
        "margin:0;padding:0;border:none;background:none;white-space:pre-wrap;"
        f"overflow-wrap:anywhere;{font}"
    )
    summary = exception_lines(text)
    head = (
        f'<pre class="hipercow-traceback-error" style="{pre};margin-bottom:4px">'
        f"{_html_lines(summary)}</pre>"
        if summary
        else ""
    )
    box = (
        "display:flex;flex-direction:column-reverse;max-height:24em;overflow:auto;"
        "padding:4px 6px;border-radius:2px;color:var(--jp-content-font-color1, inherit);"
        "background:var(--jp-rendermime-error-background, rgba(244, 67, 54, 0.12))"
    )
    return (
        f'<div class="hipercow-traceback">{head}<div class="hipercow-traceback-box" '
        f'style="{box}"><pre style="{pre};flex:none;overflow:visible">{_html_lines(text)}</pre>'
        "</div></div>"
    )
