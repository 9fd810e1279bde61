"""The task statuses, in lifecycle order, and the groups of them that code asks about."""

from __future__ import annotations

STATUSES = ("created", "submitted", "running", "success", "failure", "cancelled")
TERMINAL = ("success", "failure", "cancelled")
ACTIVE = ("submitted", "running")  # with a driver: queued or running, cancellable
