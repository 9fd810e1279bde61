"""How sizes, durations, clock times and minutes are written, everywhere they are shown."""

from __future__ import annotations

import time


def format_bytes(n: int) -> str:
    """999 -> '999 bytes', 1000 -> '1 kB', 1.5e9 -> '1.5 GB' (decimal units, as hipercow)."""
    if n < 1000:
        return f"{n} bytes"
    for unit in ("kB", "MB", "GB", "TB"):
        n /= 1000
        if n < 1000 or unit == "TB":
            return f"{n:.3f}".rstrip("0").rstrip(".") + f" {unit}"
    raise AssertionError("unreachable")


def pretty_dt(seconds: float | None) -> str:
    """'350ms', '10s', '6m', '1h 5m', '2d 3h'; '???' when unknown."""
    if seconds is None:
        return "???"
    if seconds < 1:
        return f"{seconds * 1000:.0f}ms"
    if seconds < 60:
        return f"{seconds:.1f}s" if seconds < 10 else f"{seconds:.0f}s"
    minutes, secs = divmod(int(seconds), 60)
    if minutes < 60:
        return f"{minutes}m" + (f" {secs}s" if secs else "")
    hours, minutes = divmod(minutes, 60)
    if hours < 24:
        return f"{hours}h" + (f" {minutes}m" if minutes else "")
    days, hours = divmod(hours, 24)
    return f"{days}d" + (f" {hours}h" if hours else "")


def time_ago(t: float | None, now: float | None = None) -> str:
    """'5m ago' for a time five minutes before `now` (default: this moment)."""
    if t is None:
        return "unknown time ago"
    return f"{pretty_dt((now or time.time()) - t)} ago"


def ordinal(n: int) -> str:
    """'1st', '2nd', '3rd', '11th', '22nd'."""
    if 10 <= n % 100 <= 20:
        suffix = "th"
    else:
        suffix = {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


def short_id(task_id: str) -> str:
    """The first 8 characters of a task id, as every display shows it (a prefix names it)."""
    return task_id[:8]


def clock_time(t: float | None, now: float | None = None) -> str:
    """A local clock time as people read it: '15:56:07' today, '2026-11-30 15:56' otherwise.

    Every display (widgets, panel, CLI, `task_info`'s summary lines) writes created, started
    and finished times this way; '' when unknown.
    """
    if t is None:
        return ""
    here = time.localtime(t)
    today = time.localtime(time.time() if now is None else now)
    if here[:3] == today[:3]:
        return time.strftime("%H:%M:%S", here)
    return time.strftime("%Y-%m-%d %H:%M", here)


def hold_text(until: float, now: float | None = None) -> str:
    """'held until 15:56 (in 2h)' for a task held until a time; '... (passed)' once it has."""
    now = time.time() if now is None else now
    when = clock_time(until, now)
    if len(when) == 8:  # today: seconds say nothing here
        when = when[:5]
    left = round(until - now) if until - now >= 60 else until - now
    return f"held until {when} ({'in ' + pretty_dt(left) if left > 0 else 'passed'})"


def stamp(t: float) -> str:
    """A local clock time as '2024-05-01 13:45:07'."""
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(t))


def format_minutes(minutes: int) -> str:
    """90 -> '1h30m', 1500 -> '1d1h', 0 -> '0m'."""
    d, rest = divmod(int(minutes), 1440)
    h, m = divmod(rest, 60)
    out = (f"{d}d" if d else "") + (f"{h}h" if h else "") + (f"{m}m" if m else "")
    return out or "0m"


def first_line(code: str) -> str:
    """The first line of some code, with ' [...]' when more lines follow."""
    lines = code.strip().splitlines() or [""]
    return lines[0] + (" [...]" if len(lines) > 1 else "")
