"""Whether the root's local scheduler starts: failed starts in a row are counted on disk
(by the scheduler when it can say why, else by the process that started it), for status calls
to report instead of waiting in silence.
"""

from __future__ import annotations

import contextlib
import os
import time

from hipercow_magic.core import store
from hipercow_magic.drivers.local import paths

EXIT_START_FAILED = 4  # the scheduler could not start and has counted it (start-failures.json)


def record_start_failure(root, message: str) -> None:
    """Count a scheduler that could not start (or stopped on an error), for the driver to
    report; a scheduler that starts clears the count.
    """
    with contextlib.suppress(Exception):
        failures = store.read_json_or(paths.start_failures(root)) or {}
        store.write_json(
            paths.start_failures(root),
            {"count": int(failures.get("count", 0)) + 1, "time": time.time(), "last": message},
        )


def log(message: str) -> None:
    """A line in the scheduler's log (its standard output)."""
    print(f"{time.strftime('%Y-%m-%d %H:%M:%S')} [{os.getpid()}] {message}", flush=True)
