"""Errors a user can cause; front ends show their message, not a traceback."""


class HipercowError(Exception):
    """A problem the user can fix; the message says what was wrong and what to do."""


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
