"""Process-wide settings (front ends may expose them, e.g. through traitlets)."""

from __future__ import annotations

import os
from dataclasses import dataclass, field

from hipercow_magic.core.envvars import EnvVars
from hipercow_magic.core.errors import HipercowError, warn
from hipercow_magic.core.retry_policy import RetryPolicy, parse_retry_option


def _size_from_env() -> int | None:
    value = os.environ.get("HIPERCOW_MAX_SIZE_LOCAL")
    if value is None:
        return 1_000_000_000
    return None if value.lower() in ("inf", "none", "") else int(float(value))


def _reuse_from_env() -> bool:
    value = os.environ.get("HIPERCOW_REUSE", "").strip().lower()
    return value not in ("0", "false", "no", "off")


def _retry_from_env() -> RetryPolicy | None:
    value = os.environ.get("HIPERCOW_RETRY", "").strip()
    if not value:
        return None
    try:
        return parse_retry_option(value) or None
    except HipercowError as e:
        warn(f"HIPERCOW_RETRY is ignored: {e}")
        return None


@dataclass
class Options:
    """Settings for this process, changed by assignment (`hipercow_magic.options.x = ...`).

    Attributes:
        max_size_local: the largest value (in bytes, pickled) a task may capture; None for no
            limit. Default 1 GB, or the HIPERCOW_MAX_SIZE_LOCAL environment variable as it
            was when the package was imported.
        default_envvars: variables (from hipercow_envvars()) every new task gets, below its own.
        poll_interval: seconds between the first status checks while waiting (it grows up to
            what the driver recommends).
        reuse: whether a `%%hipercow` cell whose code and inputs are unchanged since a task
            that succeeded reuses that task (and one still queued or running is attached
            to) instead of creating a new one. Default True, or False when the
            HIPERCOW_REUSE environment variable was 0, false, no or off when the package
            was imported. `%%hipercow --rerun` runs a cell anew either way.
    """

    max_size_local: int | None = field(default_factory=_size_from_env)  # bytes, None = no limit
    default_envvars: EnvVars | None = None
    poll_interval: float = 0.05  # seconds between status checks while waiting
    reuse: bool = field(default_factory=_reuse_from_env)  # unchanged cells reuse their task
    retry: RetryPolicy | None = field(default_factory=_retry_from_env)  # None: no retries


options = Options()
