"""Process-wide settings (front ends may expose them, e.g. through traitlets)."""

from __future__ import annotations

import os
from dataclasses import dataclass, field

from hipercow_magic.core.envvars import EnvVars


def _size_from_env() -> int | None:
    value = os.environ.get("HIPERCOW_MAX_SIZE_LOCAL")
    if value is None:
        return 1_000_000_000
    return None if value.lower() in ("inf", "none", "") else int(float(value))


@dataclass
class Options:
    max_size_local: int | None = field(default_factory=_size_from_env)  # bytes, None = no limit
    default_envvars: EnvVars | None = None
    poll_interval: float = 0.05  # seconds between status checks while waiting


options = Options()
