"""Waiting for tasks with a progress bar on the terminal: finished of all, how many are in
each state, and the time elapsed; redrawn as states change (the tasks' driver tells of starts
and ends where it can, else one batched query a poll serves all of them).
"""

from __future__ import annotations

import contextlib
import os
import sys

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TextColumn,
    TimeElapsedColumn,
)

from hipercow_magic.cli.tables import counts_text
from hipercow_magic.core.errors import HipercowError, TaskWaitTimeout
from hipercow_magic.core.root import find_root
from hipercow_magic.core.status import TERMINAL
from hipercow_magic.engine.bundles import status_reduce
from hipercow_magic.engine.statuses import check_exists, watch_statuses


def can_draw_progress() -> bool:
    """Whether a progress bar can be drawn: standard error is a terminal that can move the
    cursor (not a pipe or a file, where the bar would be noise; colours follow NO_COLOR).
    """
    return sys.stderr.isatty() and os.environ.get("TERM") != "dumb"


def wait_with_progress(
    ids: list[str], label: str, timeout: float | None = None, fail_early: bool = False
) -> list[str]:
    """Wait for tasks, drawing a progress bar on standard error.

    Args:
        ids: the tasks (each followed to the newest task of its retry chain).
        label: what is waited for, shown before the bar ("bundle 'sweep'").
        timeout: give up after this many seconds (None: never).
        fail_early: stop at the first task that fails or is cancelled.

    Returns:
        The tasks' statuses when the wait ended.

    Raises:
        HipercowError: a task does not exist or has not been submitted.
        TaskWaitTimeout: `timeout` passed first.
    """
    root = find_root(None)
    check_exists(root, ids)
    flavour = "wait-fail-early" if fail_early else "wait-fail-late"
    console = Console(stderr=True, highlight=False)
    progress = Progress(
        SpinnerColumn(finished_text="[bold]✓"),
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[counts]}"),
        TimeElapsedColumn(),
        console=console,
    )
    seen = watch_statuses(root, ids, follow=True, timeout=timeout)
    with progress, contextlib.closing(seen):
        bar = progress.add_task(label, total=len(ids), counts="")
        for statuses in seen:
            if "created" in statuses:
                first = ids[statuses.index("created")]
                raise HipercowError(
                    f"Cannot wait on task '{first}', which has not been submitted "
                    f"('hipercow task submit {first[:8]}' submits it)"
                )
            done = sum(s in TERMINAL for s in statuses)
            progress.update(bar, completed=done, counts=counts_text(statuses).markup)
            if status_reduce(statuses, flavour) in TERMINAL:
                progress.stop_task(bar)
                return statuses
    raise TaskWaitTimeout(f"{label[0].upper()}{label[1:]} did not complete in time")
