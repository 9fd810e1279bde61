"""Files of tasks on a remote root, brought to this side when first read.

A root reached over SSH keeps its tasks' results and logs on the cluster; the transport
(drivers/remote) registers a fetcher here, and the readers of those files (core/task.py, the
log readers) call `ensure` before reading, so everything above reads local files as for any
other root. Where no fetcher is registered, or the task is not on a remote root, `ensure`
does nothing.
"""

from __future__ import annotations

from collections.abc import Callable

_fetchers: list[Callable] = []


def register(fetch: Callable) -> None:
    """Add `fetch(root, task_id, name, grow)`: brings file `name` of a task to this side
    where it lives on a remote root (`grow`: a file that grows, such as the log: its new
    bytes). It must return quietly for tasks that are not remote.
    """
    if fetch not in _fetchers:
        _fetchers.append(fetch)


def ensure(root, task_id: str, name: str, grow: bool = False) -> None:
    """Bring file `name` of a task to this side if it lives on a remote root and is missing
    here (with `grow`, bring the bytes it gained since).
    """
    for fetch in _fetchers:
        fetch(root, task_id, name, grow)
