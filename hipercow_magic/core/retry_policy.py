"""Retry policies: which failures a task is retried after, how many attempts it gets, and
how much its memory and time requests grow at each retry.
"""

from __future__ import annotations

import dataclasses
import math

from hipercow_magic.core.errors import HipercowError
from hipercow_magic.core.failures import CLASS_WORDS, FAILURE_CLASSES

DEFAULT_CLASSES = ("out_of_memory", "timeout", "node_failure")
_CLASSES_HINT = "Failure classes: " + ", ".join(FAILURE_CLASSES)


@dataclasses.dataclass(frozen=True)
class RetryPolicy:
    """When a failed task is retried automatically, and with what.

    Attributes:
        on: the failure classes retried (of out_of_memory, timeout, node_failure, error).
        max_attempts: the most attempts in all, the first included (1: never retried).
        memory_factor: a retry after running out of memory asks for this much more memory.
        runtime_factor: a retry after running out of time asks for this much more time.
    """

    on: tuple[str, ...] = DEFAULT_CLASSES
    max_attempts: int = 3
    memory_factor: float = 1.5
    runtime_factor: float = 2

    def to_dict(self) -> dict:
        """The policy as stored in a task's data.json ("retry_policy")."""
        return {
            "on": list(self.on),
            "max_attempts": self.max_attempts,
            "memory_factor": self.memory_factor,
            "runtime_factor": self.runtime_factor,
        }

    @classmethod
    def from_dict(cls, d: dict) -> RetryPolicy:
        """A policy from `to_dict`'s form (checked again: the file may have been edited)."""
        return hipercow_retry_policy(
            on=d.get("on", DEFAULT_CLASSES),
            max_attempts=d.get("max_attempts", 3),
            memory_factor=d.get("memory_factor", 1.5),
            runtime_factor=d.get("runtime_factor", 2),
        )

    def covers(self, failure_class: str) -> bool:
        """Whether a failure of this class is retried."""
        return failure_class in self.on

    def __str__(self) -> str:
        words = ", ".join(CLASS_WORDS[c] for c in self.on)
        return "\n".join(
            [
                "hipercow retry policy (hipercow_retry_policy)",
                f"  • retried after: {words}",
                f"  • attempts: at most {self.max_attempts} in all",
                f"  • memory x {self.memory_factor:g} after running out of memory",
                f"  • time x {self.runtime_factor:g} after running out of time",
            ]
        )

    def _repr_pretty_(self, p, cycle):
        p.text(str(self))


def _factor(value, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or math.isnan(value):
        raise HipercowError(f"'{name}' must be a number greater than 1, not {value!r}")
    if value <= 1 or value == math.inf:
        raise HipercowError(
            f"'{name}' must be greater than 1 (and finite), not {value!r}\n"
            "It multiplies the request at each retry: 1.5 asks for half as much again."
        )
    return int(value) if float(value).is_integer() else float(value)


def _classes(on) -> tuple[str, ...]:
    if isinstance(on, str):
        on = [on]
    if not isinstance(on, (list, tuple, set, frozenset)) or not on:
        raise HipercowError(
            f"'on' must name one or more failure classes, not {on!r}\n{_CLASSES_HINT}"
        )
    unknown = [c for c in on if c not in FAILURE_CLASSES]
    if unknown:
        quoted = ", ".join(f"'{c}'" for c in unknown)
        raise HipercowError(
            f"Unknown failure class{'es' if len(unknown) > 1 else ''} {quoted} in 'on'\n"
            f"{_CLASSES_HINT} (error: a Python exception or any other crash)"
        )
    return tuple(c for c in FAILURE_CLASSES if c in set(on))


def hipercow_retry_policy(
    on=DEFAULT_CLASSES, max_attempts=3, memory_factor=1.5, runtime_factor=2
) -> RetryPolicy:
    """Describe when a task that failed is retried automatically, as a new task in its
    retry chain (so `follow=` lookups, waits and displays move on to it).

    A retry after running out of memory asks for `memory_factor` times the memory (what
    it asked for; when it asked for none, its measured peak); after running out of time,
    `runtime_factor` times its max_runtime; after a node failure or an error, the same
    again. Requests grow up to the cluster's limits (the largest node's memory, the
    queue's longest runtime) and no further: a task already at the limit is not retried,
    and says why. Retries are made by whatever looks at the task's status (a wait, a
    display, `hipercow task status` or `wait`, the JupyterLab panel).

    Args:
        on: the failure classes to retry after: 'out_of_memory', 'timeout',
            'node_failure', and 'error' (a Python exception or another crash; not retried
            unless named).
        max_attempts: the most attempts in all, the first one included (a whole number
            from 1).
        memory_factor: how much more memory each retry after running out of memory asks
            for (greater than 1).
        runtime_factor: how much more time each retry after running out of time asks for
            (greater than 1).

    Returns:
        The RetryPolicy, to pass as `retry=` when creating tasks (or to set as
        `hipercow_magic.options.retry`, the default of every new task).

    Raises:
        HipercowError: an unknown failure class, max_attempts below 1 or not whole, or a
            factor of 1 or less.
    """
    classes = _classes(on)
    if (
        isinstance(max_attempts, bool)
        or not isinstance(max_attempts, (int, float))
        or max_attempts != max_attempts
        or not float(max_attempts).is_integer()
        or max_attempts < 1
    ):
        raise HipercowError(
            f"'max_attempts' must be a whole number from 1, not {max_attempts!r}\n"
            "It counts every attempt, the first included: 3 means at most 2 retries."
        )
    return RetryPolicy(
        on=classes,
        max_attempts=int(max_attempts),
        memory_factor=_factor(memory_factor, "memory_factor"),
        runtime_factor=_factor(runtime_factor, "runtime_factor"),
    )


def parse_retry_option(text: str | None, attempts: int | None = None) -> RetryPolicy | bool | None:
    """The policy of `--retry CLASSES` (and `--retry-attempts N`), or of HIPERCOW_RETRY.

    Args:
        text: failure classes separated by commas ('out_of_memory,timeout'), 'default'
            (out_of_memory, timeout and node_failure) or 'none' (no retries, whatever the
            default); None when not given.
        attempts: the most attempts in all (default 3).

    Returns:
        A RetryPolicy; False for 'none'; None when neither is given.
    """
    if text is None:
        if attempts is not None:
            raise HipercowError(
                "--retry-attempts needs --retry too: which failures to retry after, e.g. "
                "--retry out_of_memory,timeout"
            )
        return None
    words = [w.strip().replace("-", "_") for w in text.split(",") if w.strip()]
    if words == ["none"]:
        return False
    classes = DEFAULT_CLASSES if words == ["default"] else words
    return hipercow_retry_policy(on=classes, max_attempts=3 if attempts is None else attempts)


def chosen_policy(retry, default: RetryPolicy | None) -> RetryPolicy | None:
    """The policy a new task gets from `retry=`: a RetryPolicy; True for the default
    classes; False for none; None for `default` (hipercow_magic.options.retry).
    """
    if retry is None:
        return default
    if retry is False:
        return None
    if retry is True:
        return RetryPolicy()
    if not isinstance(retry, RetryPolicy):
        raise HipercowError(
            f"'retry' must come from hipercow_retry_policy() (or be True or False), not "
            f"{type(retry).__name__}"
        )
    return retry


def policy_of(data: dict) -> RetryPolicy | None:
    """A task's policy, from its data.json; None without one (or one that no longer reads)."""
    stored = data.get("retry_policy")
    if not isinstance(stored, dict):
        return None
    try:
        return RetryPolicy.from_dict(stored)
    except HipercowError:
        return None
