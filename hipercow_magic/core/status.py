"""The task statuses, in lifecycle order, and the groups of them that code asks about."""

from __future__ import annotations

STATUSES = ("created", "submitted", "running", "success", "failure", "cancelled")
TERMINAL = ("success", "failure", "cancelled")
ACTIVE = ("submitted", "running")  # with a driver: queued or running, cancellable


def count_statuses(statuses) -> dict[str, int]:
    """How many of each status, in lifecycle order, leaving out those with none."""
    counts = {status: 0 for status in STATUSES}
    for status in statuses:
        counts[status] = counts.get(status, 0) + 1
    return {status: n for status, n in counts.items() if n}
