"""Hearing that tasks of a root started or ended, from every driver of the root that can tell.

```python
with watch_changes(root) as changes:
    ...  # look at the markers (after subscribing: nothing that happens next is missed)
    while not done():
        changes.wait(1.0)  # True at once when a task started or ended; False after 1 s
        ...  # look again
```

A driver that can't tell (Slurm, or none configured) makes `wait` sleep its timeout and
return False, so callers keep their one batched poll. A notice is a hint: whoever waits
still looks at the markers at least every few seconds, so a lost notice (a scheduler
killed between a task's end and its notice) costs time, never a wrong state.
"""

from __future__ import annotations

import contextlib
import os
import select
import time

from hipercow_magic.core.errors import HipercowError
from hipercow_magic.drivers.registry import load_driver


class Changes:
    """A subscription to a root's task starts and ends (see `watch_changes`).

    Attributes:
        drivers: the names of the root's drivers that tell of changes (empty: `wait` sleeps).
        ids: the tasks the last `wait` heard of (empty after a timeout); None when a driver
            could not say which (look at every task again).
    """

    def __init__(self, subscriptions: dict):
        self._subscriptions = subscriptions
        self.drivers = frozenset(subscriptions)
        self.ids: set[str] | None = set()

    @property
    def notifies(self) -> bool:
        """Whether any driver of the root tells of changes (else `wait` only sleeps)."""
        return bool(self._subscriptions)

    def wait(self, timeout: float) -> bool:
        """Wait until a task of the root starts or ends, at most `timeout` seconds.

        Returns:
            True as soon as a task started or ended since the previous wait (or since
            `watch_changes` returned); False when the timeout passed first. The tasks heard
            of are in `ids`.
        """
        timeout = max(timeout, 0.0)
        if not self._subscriptions:
            time.sleep(timeout)
            self.ids = set()
            return False
        subscriptions = list(self._subscriptions.values())
        deadline = time.monotonic() + timeout
        while True:
            try:
                ready, _, _ = select.select(subscriptions, [], [], timeout)
            except InterruptedError:
                ready = []
            ids: set[str] | None = set()
            for sub in ready:
                heard = sub.drain()
                ids = None if heard is None or ids is None else ids | heard
            self.ids = ids
            if ids is None or ids:
                return True
            timeout = deadline - time.monotonic()
            if timeout <= 0:
                return False

    def close(self) -> None:
        """Stop listening (the Changes waits no more)."""
        for sub in self._subscriptions.values():
            with contextlib.suppress(OSError):
                sub.close()
        self._subscriptions = {}

    def __enter__(self) -> Changes:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def watch_changes(root) -> Changes:
    """Subscribe to the starts and ends of the root's tasks, from each configured driver
    that can tell (the local driver does; Slurm and a root with no driver don't).

    Subscribe first, then look at the tasks: a start or end after this returns makes the
    next `Changes.wait` return True at once. Close it (or use it in a `with` block).

    Args:
        root: the root (a Root).

    Returns:
        The Changes.
    """
    subscriptions = {}
    if os.environ.get("HIPERCOW_NO_DRIVERS") != "1":
        for name in root.configured_drivers():
            try:
                sub = load_driver(root, name).subscribe()
            except HipercowError:
                continue  # a driver that can't be loaded tells nothing
            if sub is not None:
                subscriptions[name] = sub
    return Changes(subscriptions)
