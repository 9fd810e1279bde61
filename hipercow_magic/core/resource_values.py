"""The values of a resource request, each parsed and checked on its own: cores, durations,
memory sizes, GPUs, hold times and node lists.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from typing import Any

from hipercow_magic.core.errors import HipercowError

SPECIAL_TIMES = ("tonight", "midnight", "weekend")
_DURATION_RE = re.compile(r"^\s*(?:(\d+)d)?\s*(?:(\d+)h)?\s*(?:(\d+)m?)?\s*$", re.IGNORECASE)
_MEMORY_RE = re.compile(r"^\s*([0-9]+(?:\.[0-9]+)?)\s*([MGT]B?)?\s*$", re.IGNORECASE)
_MEMORY_UNITS = {"M": 0.001, "G": 1, "T": 1000}
_DURATION_HINT = "Use integer minutes, or d,h,m combinations such as 2h30m, 1h30 or 40d"


def _invalid(name: str, value: Any, *details: str) -> HipercowError:
    return HipercowError("\n".join([f"Invalid value for '{name}': {value}", *details]))


def parse_cores(cores: Any) -> float:
    """Cores as a positive whole number, or math.inf for 'Inf'; an error otherwise."""
    if isinstance(cores, (list, tuple, set)):
        raise HipercowError("'cores' must be a scalar")
    hint = "Number of cores must be a positive integer, or 'Inf'"
    if isinstance(cores, str) and cores.strip().lower() in ("inf", "infinity"):
        return math.inf
    if isinstance(cores, float) and cores == math.inf:
        return math.inf
    if isinstance(cores, bool) or not isinstance(cores, (int, float)):
        raise _invalid("cores", cores, hint)
    if isinstance(cores, float) and (math.isnan(cores) or not cores.is_integer()):
        raise _invalid("cores", cores, hint)
    if cores <= 0:
        raise _invalid("cores", cores, hint)
    return int(cores)


def duration_to_minutes(value: Any, name: str) -> int:
    """Integer minutes from an int, a digit string, or a '2h30m'/'1h30'/'40d' string."""
    if isinstance(value, bool) or value is None:
        raise _invalid(
            name,
            value,
            f"'{name}' must be a number or a string representing a duration",
            _DURATION_HINT,
        )
    if isinstance(value, (int, float)):
        if isinstance(value, float) and (math.isnan(value) or not value.is_integer()):
            raise _invalid(
                name, value, f"'{name}' is a non-integer number of minutes", _DURATION_HINT
            )
        minutes = int(value)
    elif isinstance(value, str):
        m = _DURATION_RE.match(value)
        if not m or not value.strip() or not any(m.groups()):
            raise _invalid(name, value, "Failed to parse string into XhYdZm format", _DURATION_HINT)
        d, h, mins = (int(g) if g else 0 for g in m.groups())
        minutes = d * 1440 + h * 60 + mins
    else:
        raise _invalid(
            name,
            value,
            f"'{name}' must be a number or a string representing a duration",
            _DURATION_HINT,
        )
    if minutes < 0:
        raise _invalid(name, value, f"'{name}' is a negative number of minutes", _DURATION_HINT)
    if minutes == 0:
        raise _invalid(name, value, f"'{name}' is zero minutes", _DURATION_HINT)
    return minutes


def parse_memory(value: Any, name: str) -> int | float | None:
    """Gigabytes from a number or a string like '8G', '64g', '1T' (T = 1000 G), '0.5G' or
    '500M' (M = 0.001 G); whole gigabytes come back as an int.
    """
    if value is None:
        return None
    if isinstance(value, bool):
        raise _invalid(name, value, "Expected a number or a string representing a size")
    if isinstance(value, str):
        m = _MEMORY_RE.match(value)
        if not m:
            raise HipercowError(
                f"Invalid string representation of memory for '{name}': {value}\n"
                "Examples: '4' (as a number, assumed gigabytes), '8G', '1T', '0.5G' or '500M'"
            )
        gb = float(m.group(1)) * _MEMORY_UNITS[(m.group(2) or "G")[0].upper()]
    elif isinstance(value, (int, float)):
        if value < 0 or value != value or value == math.inf:
            raise _invalid(name, value, "Amount of memory must be a positive number")
        gb = float(value)
    else:
        raise _invalid(name, value, "Expected a number or a string representing a size")
    gb = round(gb, 3)
    if gb == 0:
        raise _invalid(name, value, "We need some memory to run your tasks! (at least 1M)")
    return int(gb) if gb.is_integer() else gb


def parse_gpus(gpus: Any, gpu_type: Any) -> tuple[int, str | None]:
    """Checked `gpus` (a whole number, 0 for none) and `gpu_type` (a name, or None for any)."""
    if isinstance(gpus, bool) or not isinstance(gpus, (int, float, str)):
        raise _invalid("gpus", gpus, "Expected a whole number of GPUs, such as 1 or 2")
    try:
        n = float(gpus)
    except ValueError:
        raise _invalid("gpus", gpus, "Expected a whole number of GPUs, such as 1 or 2") from None
    if not n.is_integer() or n < 0:
        raise _invalid("gpus", gpus, "Expected a whole number of GPUs, such as 1 or 2")
    if gpu_type is not None:
        if not isinstance(gpu_type, str) or not gpu_type.strip():
            raise _invalid("gpu_type", gpu_type, "Expected the name of a GPU type, e.g. 'a100'")
        if n == 0:
            raise HipercowError(
                f"'gpu_type' is '{gpu_type}' but no GPUs are asked for\n"
                "Ask for some too: gpus=1 (or --gpus 1)"
            )
        gpu_type = gpu_type.strip()
    return int(n), gpu_type


def parse_hold_until(value: Any, now: dt.datetime | None = None):
    """None, a special time name, a future datetime/date, or a duration in minutes."""
    if value is None:
        return None
    now = now or dt.datetime.now()
    if isinstance(value, str) and value.strip().lower() in SPECIAL_TIMES:
        return value.strip().lower()
    if isinstance(value, dt.datetime):
        if value <= now:
            raise _invalid("hold_until", value, f"{value} is in the past")
        _check_representable(value, value)
        return value
    if isinstance(value, dt.date):
        if value <= now.date():
            raise _invalid("hold_until", value, f"{value} is in the past")
        value = dt.datetime.combine(value, dt.time())
        _check_representable(value, value)
        return value
    minutes = duration_to_minutes(value, "hold_until")
    try:
        _check_representable(value, now + dt.timedelta(minutes=minutes))
    except OverflowError:
        raise _too_far(value) from None
    return minutes


def _too_far(value) -> HipercowError:
    return _invalid(
        "hold_until", value, "That is too far in the future: give a date before the year 9999"
    )


def _check_representable(value, when: dt.datetime) -> None:
    """An error for a hold time beyond what dates (and epoch seconds) can hold."""
    try:
        when.timestamp()
        when + dt.timedelta(days=2)  # resolving 'weekend'-like shifts stays in range
    except (OverflowError, ValueError, OSError):
        raise _too_far(value) from None


def resolve_hold_until(value, now: dt.datetime | None = None) -> dt.datetime | None:
    """The moment a task may start; special names and durations resolve at submission."""
    if value is None:
        return None
    now = now or dt.datetime.now()
    if isinstance(value, dt.datetime):
        return value
    if isinstance(value, int):
        try:
            return now + dt.timedelta(minutes=value)
        except OverflowError:
            raise _too_far(value) from None
    today = now.replace(hour=0, minute=0, second=0, microsecond=0)
    if value == "tonight":
        return now if (now.hour > 19 or now.hour < 3) else today.replace(hour=19)
    if value == "midnight":
        return now if now.hour < 3 else today + dt.timedelta(days=1)
    if value == "weekend":
        if now.weekday() >= 5:
            return now
        return today + dt.timedelta(days=5 - now.weekday())
    raise _invalid("hold_until", value)


def character_list(value, name: str) -> list[str] | None:
    """Names from a list or one ','-separated string, stripped, without repeats (None if none)."""
    if value is None:
        return None
    if isinstance(value, str):
        value = value.split(",")
    if not isinstance(value, (list, tuple)) or not all(isinstance(v, str) for v in value):
        raise HipercowError(f"'{name}' must be a character")
    out: list[str] = []
    for v in value:
        v = v.strip()
        if v and v not in out:
            out.append(v)
    return out or None
