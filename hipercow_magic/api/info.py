"""TaskInfo: everything known about one task, printed like hipercow's task_info()."""

from __future__ import annotations

import dataclasses
import time

from hipercow_magic.core.format import (
    clock_time,
    first_line,
    ordinal,
    pretty_dt,
    short_id,
    time_ago,
)
from hipercow_magic.core.reasons import pending_words
from hipercow_magic.core.resources import Resources
from hipercow_magic.core.root import check_task_id, find_root
from hipercow_magic.core.status import TERMINAL
from hipercow_magic.core.task import ran_on
from hipercow_magic.engine.dependencies import waiting_text


def task_node(task_id: str, root=None) -> str | None:
    """The node a task runs or ran on (its virtual node on the local driver, else the host
    that ran it); None for a task that never started.
    """
    return ran_on(find_root(root), check_task_id(task_id))


def reason_text(scheduler: dict) -> str:
    """Why a queued task waits, in words, with what to do where there is something: the
    driver's own sentence (`reason_words`) if it gave one, else its reason code in words
    (`pending_words`); '' without a reason.
    """
    s = scheduler or {}
    if s.get("reason_words"):
        return str(s["reason_words"])
    if not s.get("reason"):
        return ""
    words, action = pending_words(str(s["reason"]))
    return f"{words}; {action}" if action else words


def scheduler_text(scheduler: dict) -> str:
    """The scheduler's view of a waiting or running task in words: its place in the queue,
    why it waits and what to do, when it may start (only where the scheduler's estimate
    means something, else why it is unknown), where it runs ('' when the scheduler said
    nothing of use). The task's state is its status, so the scheduler's own state names
    are not repeated here; a task held for others (`waiting_for`: (id, status) pairs) says
    which, with their statuses.
    """
    s = scheduler or {}
    parts = []
    if s.get("state") == "UNKNOWN":
        parts.append("the scheduler no longer lists it")
    if s.get("position") is not None:
        parts.append(f"position {s['position']} in the queue")
    if s.get("waiting_for"):
        parts.append(waiting_text(s["waiting_for"]))
    elif s.get("reason") or s.get("reason_words"):
        parts.append(reason_text(s))
    if s.get("estimated_start"):
        start = s["estimated_start"]
        start = clock_time(start) if isinstance(start, (int, float)) else start
        parts.append(f"expected to start at {start}")
    elif s.get("start_unknown"):
        parts.append(f"estimated start {s['start_unknown']}")
    if s.get("partition"):
        parts.append(f"partition {s['partition']}")
    if s.get("job_id"):
        parts.append(f"job {s['job_id']}")
    if s.get("problem"):
        parts.append(str(s["problem"]))
    return ", ".join(parts)


def cancelled_text(times: dict) -> str:
    """'cancelled before it started', or 'cancelled after running 3s'."""
    started, finished = times.get("started"), times.get("finished")
    if started is None:
        return "cancelled before it started"
    if finished is None:
        return "cancelled while running"
    return f"cancelled after running {pretty_dt(finished - started)}"


@dataclasses.dataclass
class TaskInfo:
    """Facts about one task; `print(info)` lays them out as hipercow does.

    Attributes:
        id: the task's id.
        status: its status when asked.
        driver: the driver it was submitted to (or will be), if any.
        data: its data.json: type, code or call or script, environment, resources...
        times: created, submitted, started, finished (epoch seconds or None).
        retry_chain: [original, first retry, ...] for a task that was retried, else None.
        scheduler: the driver's view while the task is submitted or running.
        reason: why a finished task failed or was cancelled, when known.
        node: the node it runs or ran on, once it started (see `task_node`).
        depends_on: the tasks it waits for (or waited for) with their statuses, as
            (id, status) pairs.
        usage: what it uses or used, in words (see `api.usage.usage_words`); None when
            nothing was measured.
        attempt: which attempt of its retry policy it is, in words ('attempt 2 of 3: out
            of memory at 2 GB, now 3 GB'), or why it was not retried; None otherwise.
    """

    id: str
    status: str
    driver: str | None
    data: dict
    times: dict
    retry_chain: list[str] | None = None
    scheduler: dict = dataclasses.field(default_factory=dict)
    reason: str | None = None
    node: str | None = None
    depends_on: list[tuple[str, str | None]] = dataclasses.field(default_factory=list)
    usage: str | None = None
    attempt: str | None = None

    @property
    def waited(self) -> float | None:
        """Seconds from creation to start (hipercow's definition)."""
        created, started = self.times.get("created"), self.times.get("started")
        return None if created is None or started is None else started - created

    @property
    def ran_for(self) -> float | None:
        """Seconds from start to finish; None until both are known."""
        started, finished = self.times.get("started"), self.times.get("finished")
        return None if started is None or finished is None else finished - started

    def to_dict(self) -> dict:
        """The facts as a JSON-ready dict, with `waited` and `ran_for`."""
        d = dataclasses.asdict(self)
        d.update(waited=self.waited, ran_for=self.ran_for)
        return d

    def lines(self, now: float | None = None) -> list[str]:
        """The printed layout, line by line; times ago are counted from `now` (default: now)."""
        now = now or time.time()
        d = self.data
        out = [f"── task {self.id} ({self.status}) ──"]
        if d.get("name"):
            out.append(f"ℹ Name: {d['name']}")
        if self.driver and self.status != "created":
            out.append(f"ℹ Submitted with '{self.driver}'")
        out.append(f"ℹ Task type: {d['type']}")
        if d["type"] in ("expression", "explicit"):
            out.append(f"  • Expression: {first_line(d['code'])}")
            out.append(f"  • Locals: {', '.join(d.get('locals') or []) or '(none)'}")
        elif d["type"] == "call":
            out.append(f"  • Call: {d['call']}")
            out.append(f"  • Args: {', '.join(d.get('args') or []) or '(none)'}")
        elif d["type"] == "script":
            out.append(f"  • Script: {d['script']}")
            out.append(f"  • Options: chdir = {d.get('chdir', False)}")
        elif d["type"] == "retry":
            out.append(f"  • Retry of: {d['parent']} (first run: {d['base']})")
        out.append(f"  • Environment: {d.get('environment', 'default')}")
        for var in d.get("envvars") or []:
            if var.get("name") == "PYTHONUNBUFFERED":
                continue
            shown = "********" if "encrypted" in var else var.get("value")
            out.append(f"    {var['name']}: {shown}")
        created, started, finished = (self.times.get(k) for k in ("created", "started", "finished"))
        if d.get("resources"):
            since = self.times.get("submitted") or created
            resources = Resources.from_dict(d["resources"])
            resources = resources.summary(since, now, self.status not in TERMINAL)
            out.append(f"  • Resources: {resources}")
        if d.get("parallel") and d["parallel"].get("method"):
            p = d["parallel"]
            out.append(f"  • Parallel: {p['method']}, {p['cores_per_process']} core(s) per process")
        if d.get("path", ".") != ".":
            out.append(f"  • Relative path: {d['path']}")
        if self.depends_on:
            parents = ", ".join(f"{short_id(p)} ({s or 'gone'})" for p, s in self.depends_on)
            out.append(f"  • Depends on: {parents}")
        out.append(f"ℹ Created at {clock_time(created, now)} ({time_ago(created, now)})")
        if started is not None:
            out.append(
                f"ℹ Started at {clock_time(started, now)} ({time_ago(started, now)}; waited "
                f"{pretty_dt(self.waited)})"
            )
        elif self.status in ("created", "submitted"):
            out.append(f"! Not started yet (waiting for {pretty_dt(now - created)})")
        elif self.status != "cancelled":
            out.append("✖ Start time unknown!")
        if finished is not None and started is not None:
            out.append(
                f"ℹ Finished at {clock_time(finished, now)} ({time_ago(finished, now)}; ran for "
                f"{pretty_dt(self.ran_for)})"
            )
        elif finished is not None:
            out.append(f"ℹ Finished at {clock_time(finished, now)} ({time_ago(finished, now)})")
        elif self.status == "running" and started is not None:
            out.append(f"! Not finished yet (running for {pretty_dt(now - started)})")
        elif self.status in ("created", "submitted"):
            out.append("! Not finished yet (waiting to start)")
        else:
            out.append("✖ End time unknown!")
        node = self.node or (self.scheduler or {}).get("node")
        if node:
            out.append(f"ℹ {'Running' if self.status == 'running' else 'Ran'} on {node}")
        if self.usage:
            out.append(f"ℹ Usage: {self.usage}")
        if self.attempt:
            out.append(f"ℹ {self.attempt[0].upper()}{self.attempt[1:]}")
        waiting = scheduler_text(self.scheduler) if self.status in ("submitted", "running") else ""
        if waiting:
            out.append(f"ℹ Scheduler: {waiting}")
        if self.status == "cancelled":
            out.append(f"✖ {cancelled_text(self.times).capitalize()}")
        if self.reason and self.status in ("failure", "cancelled") and self.reason != "cancelled":
            out.append(f"✖ Reason: {self.reason}")
        chain = self.retry_chain
        if chain and len(chain) > 1:
            position = chain.index(self.id) + 1
            retried = len(chain) - 1
            if position == len(chain):
                out.append(
                    f"ℹ Last of a chain of a task retried {retried} time"
                    f"{'s' if retried > 1 else ''}"
                )
            else:
                out.append(
                    f"ℹ {ordinal(position)} of a chain of a task retried {retried} time"
                    f"{'s' if retried > 1 else ''}, most recently '{chain[-1]}'"
                )
        return out

    def __str__(self) -> str:
        return "\n".join(self.lines())

    def _repr_pretty_(self, p, cycle):
        p.text(str(self))
