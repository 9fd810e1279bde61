"""hipercow_resources(): parsing every resource request, and checking it against a cluster."""

from __future__ import annotations

import dataclasses
import datetime as dt
import math
import re
from typing import Any

from hipercow_magic.core.errors import HipercowError
from hipercow_magic.core.format import format_minutes, hold_text, pretty_dt

SPECIAL_TIMES = ("tonight", "midnight", "weekend")
_DURATION_RE = re.compile(r"^\s*(?:(\d+)d)?\s*(?:(\d+)h)?\s*(?:(\d+)m?)?\s*$", re.IGNORECASE)
_MEMORY_RE = re.compile(r"^\s*([0-9]+)\s*([GT]B?)?\s*$", re.IGNORECASE)
_DURATION_HINT = "Use integer minutes, or d,h,m combinations such as 2h30m, 1h30 or 40d"


@dataclasses.dataclass
class Resources:
    """A validated resource request; fields in hipercow's order."""

    cores: float = 1
    exclusive: bool = False
    max_runtime: int | None = None
    hold_until: Any = None
    memory_per_node: int | None = None
    memory_per_process: int | None = None
    requested_nodes: list[str] | None = None
    priority: str | None = None
    queue: str | None = None

    def to_dict(self) -> dict:
        """The resources as stored in a task's data.json (JSON-safe: 'Inf', ISO times)."""
        d = dataclasses.asdict(self)
        if d["cores"] == math.inf:
            d["cores"] = "Inf"
        if isinstance(d["hold_until"], dt.datetime):
            d["hold_until"] = d["hold_until"].isoformat()
        return d

    @classmethod
    def from_dict(cls, d: dict | None) -> Resources:
        """Resources from `to_dict`'s form; the defaults for None or {}."""
        if not d:
            return cls()
        d = dict(d)
        if d.get("cores") == "Inf":
            d["cores"] = math.inf
        hold = d.get("hold_until")
        if isinstance(hold, str) and hold not in SPECIAL_TIMES:
            d["hold_until"] = dt.datetime.fromisoformat(hold)
        return cls(**d)

    def cores_text(self) -> str:
        """The cores as shown: 'Inf' or a whole number."""
        return "Inf" if self.cores == math.inf else str(int(self.cores))

    def summary(
        self, since: float | None = None, now: float | None = None, countdown: bool = True
    ) -> str:
        """One line: the fields that differ from the defaults.

        Args:
            since: when a hold given as a duration started counting (the task's submission,
                else its creation; epoch seconds); without it such a hold is shown as a
                duration after submission.
            now: the moment a hold time is told from (default: this moment).
            countdown: whether a hold time says how long is left ('(in 2h)'); not for a
                task that has ended.
        """
        parts = [f"{self.cores_text()} core{'s' if self.cores != 1 else ''}"]
        if self.exclusive:
            parts.append("exclusive")
        if self.queue:
            parts.append(f"queue {self.queue}")
        if self.memory_per_node:
            parts.append(f"{self.memory_per_node}GB/node")
        if self.memory_per_process:
            parts.append(f"{self.memory_per_process}GB/process")
        if self.max_runtime:
            parts.append(f"max {format_minutes(self.max_runtime)}")
        if self.hold_until is not None:
            parts.append(self.hold_summary(since, now, countdown))
        if self.requested_nodes:
            parts.append("nodes " + ",".join(self.requested_nodes))
        if self.priority:
            parts.append(f"{self.priority} priority")
        return ", ".join(parts)

    def hold_summary(
        self, since: float | None = None, now: float | None = None, countdown: bool = True
    ) -> str:
        """'held until 15:56 (in 2h)'; 'held until tonight' before a named time is resolved;
        'held for 2h after submission' for a duration not yet placed in time (see `summary`).
        """
        hold = self.hold_until
        if isinstance(hold, str):
            return f"held until {hold}"
        if isinstance(hold, dt.datetime):
            until = hold.timestamp()
        elif since is None:
            return f"held for {pretty_dt(hold * 60)} after submission"
        else:
            until = since + hold * 60
        text = hold_text(until, now)
        return text if countdown else text.split(" (")[0]

    def __str__(self) -> str:
        lines = ["hipercow resource control (hipercow_resources)"]
        unset = []
        for f in dataclasses.fields(self):
            v = getattr(self, f.name)
            if v is None:
                unset.append(f"'{f.name}'")
            else:
                if f.name == "cores":
                    v = self.cores_text()
                lines.append(f"  • {f.name}: {v}")
        if unset:
            lines.append("Unset: " + ", ".join(unset))
        return "\n".join(lines)

    def _repr_pretty_(self, p, cycle):
        p.text(str(self))


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


def parse_memory(value: Any, name: str) -> int | None:
    """Gigabytes from an int or a string like '8G', '64g', '1T' (T = 1000 G)."""
    if value is None:
        return None
    if isinstance(value, bool):
        raise _invalid(name, value, "Expected an integer or a string representing a size")
    if isinstance(value, str):
        m = _MEMORY_RE.match(value)
        if not m:
            raise HipercowError(
                f"Invalid string representation of memory for '{name}': {value}\n"
                "Examples: '4' (as an integer, assumed gigabytes), or '8G' or '1T'"
            )
        gb = int(m.group(1)) * (1000 if (m.group(2) or "").upper().startswith("T") else 1)
    elif isinstance(value, (int, float)):
        if isinstance(value, float) and not value.is_integer() or value < 0:
            raise _invalid(name, value, "Amount of memory must be a positive integer")
        gb = int(value)
    else:
        raise _invalid(name, value, "Expected an integer or a string representing a size")
    if gb == 0:
        raise _invalid(name, value, "We need some memory to run your tasks!")
    return gb


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


def _character_list(value, name: str) -> list[str] | None:
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


def hipercow_resources(
    cores=1,
    exclusive=False,
    max_runtime=None,
    hold_until=None,
    memory_per_node=None,
    memory_per_process=None,
    requested_nodes=None,
    priority=None,
    queue=None,
) -> Resources:
    """Describe what a task needs; every value is checked here, against the cluster when a
    task is created.

    Args:
        cores: the number of cores (a positive whole number), or 'Inf' for a whole node.
        exclusive: have the node(s) to itself.
        max_runtime: the longest the task may run: minutes, or a string such as '2h30m',
            '1h30' or '40d' (default: the queue's limit).
        hold_until: don't start before: a future datetime or date, a duration from
            submission (as max_runtime), or 'tonight', 'midnight' or 'weekend'.
        memory_per_node: memory each node must have: gigabytes, or a string such as '8G' or
            '1T'.
        memory_per_process: memory the task expects each process to use (as memory_per_node).
        requested_nodes: only these nodes: a list of names, or one string separated by ','.
        priority: 'low' or 'normal'.
        queue: the queue (Slurm partition) to use (default: the cluster's default queue).

    Returns:
        The Resources, to pass as `resources=` when creating tasks.

    Raises:
        HipercowError: a value is invalid (the message names it and says what is accepted).
    """
    if not isinstance(exclusive, bool):
        raise HipercowError(f"'exclusive' must be a logical (True or False), not {exclusive!r}")
    if priority is not None:
        if not isinstance(priority, str):
            raise HipercowError("'priority' must be a character")
        if priority not in ("low", "normal"):
            raise HipercowError(
                f"Could not understand priority '{priority}'\n"
                "Priority can only be 'low' or 'normal'"
            )
    if queue is not None:
        if isinstance(queue, (list, tuple)):
            raise HipercowError("'queue' must be a scalar")
        if not isinstance(queue, str):
            raise HipercowError("'queue' must be a character")
        queue = queue.strip()
    return Resources(
        cores=parse_cores(cores),
        exclusive=exclusive,
        max_runtime=None
        if max_runtime is None
        else duration_to_minutes(max_runtime, "max_runtime"),
        hold_until=parse_hold_until(hold_until),
        memory_per_node=parse_memory(memory_per_node, "memory_per_node"),
        memory_per_process=parse_memory(memory_per_process, "memory_per_process"),
        requested_nodes=_character_list(requested_nodes, "nodes"),
        priority=priority,
        queue=queue,
    )


def validate_resources(resources: Resources | None, info) -> Resources:
    """Check a request against a cluster (`ClusterInfo`); fills in the default queue."""
    r = dataclasses.replace(resources or Resources())
    if r.queue is None:
        r.queue = info.default_queue
    queues = {q.lower(): q for q in info.queue_names}
    if r.queue.lower() not in queues:
        raise HipercowError(
            f"The {r.queue} queue is not available on this cluster.\n"
            f"Available: {', '.join(info.queue_names)}."
        )
    r.queue = queues[r.queue.lower()]
    if r.cores != math.inf and r.cores > info.max_cores:
        raise HipercowError(
            f"{r.cores_text()} is too many cores for this cluster.\n"
            f"The largest node has {info.max_cores} cores."
        )
    for value, what in ((r.memory_per_node, "node"), (r.memory_per_process, "process")):
        if value is not None and info.max_memory is not None and value > info.max_memory:
            raise HipercowError(
                f"{value}Gb per {what} is too large for this cluster.\n"
                f"The largest node has {info.max_memory}Gb."
            )
    if r.requested_nodes:
        nodes = {n.lower(): n for n in info.node_names}
        missing = [n for n in r.requested_nodes if n.lower() not in nodes]
        if missing:
            quoted = ", ".join(f"'{n}'" for n in missing)
            verb = "node does" if len(missing) == 1 else "nodes do"
            raise HipercowError(
                f"The {quoted} {verb} not exist on this cluster.\n"
                f"Available: {', '.join(info.node_names)}."
            )
        r.requested_nodes = [nodes[n.lower()] for n in r.requested_nodes]
    limit = info.queue_max_runtime(r.queue)
    if r.max_runtime is not None and limit is not None and r.max_runtime > limit:
        raise HipercowError(
            f"A max_runtime of {format_minutes(r.max_runtime)} is longer than the "
            f"{r.queue} queue allows.\nThe limit there is {format_minutes(limit)}."
        )
    return r
