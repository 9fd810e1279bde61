"""Errors a user can cause; front ends show their message, not a traceback."""

from __future__ import annotations

import sys
import warnings

_PACKAGE = __name__.split(".")[0]


class HipercowError(Exception):
    """A problem the user can fix; the message says what was wrong and what to do."""


class HipercowWarning(UserWarning):
    """Something the user should know that did not stop the operation (e.g. a driver that
    could not be asked, so a status is the last one known).
    """


class TaskNotFinishedError(HipercowError):
    """A task's result was asked for before the task finished."""


class TaskWaitTimeout(HipercowError):
    """Waiting for a task ran out of time."""


class TaskFailed(Exception):
    """Stands in for an exception raised on the node that could not be unpickled here."""

    def __init__(self, type_name: str, message: str, traceback: str = ""):
        super().__init__(f"{type_name}: {message}")
        self.type_name = type_name
        self.message = message
        self.traceback = traceback


class TaskDied(Exception):
    """The task's process ended without a result (killed, crashed, timed out, lost)."""


def error_line(error: BaseException) -> str:
    """An error in one line for a display: a HipercowError's message, else type and message."""
    message = " ".join(line.strip() for line in str(error).splitlines() if line.strip())
    if isinstance(error, HipercowError):
        return message or type(error).__name__
    return f"{type(error).__name__}: {message}" if message else type(error).__name__


def warn(message: str, category: type[Warning] = HipercowWarning) -> None:
    """Warn, pointing at the user's own code: the first caller outside this package."""
    frame, level = sys._getframe(1), 1
    while frame is not None and frame.f_globals.get("__name__", "").startswith(_PACKAGE + "."):
        frame, level = frame.f_back, level + 1
    warnings.warn(message, category, stacklevel=level + 1)  # 1 would be this line
