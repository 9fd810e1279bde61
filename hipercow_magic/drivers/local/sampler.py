"""What a running local task used so far, kept from readings of its whole process tree
(process_tree.py): CPU seconds, the cores busy over each interval, the tree's memory now and
its peak; and how often the tree is read.
"""

from __future__ import annotations

import os
import sys
import time

from hipercow_magic.core.usage import Usage
from hipercow_magic.drivers.local.process_tree import TreeMemory, TreeReading

EVERY = 2.0  # seconds between readings of a task's tree
EVERY_AT_FIRST = 1.0  # ... in its first FIRST_SECONDS, so a short task has figures
FIRST_SECONDS = 10.0
EVERY_WITH_LIMIT = 0.5  # a task with a memory limit: the limit is enforced within this
TAIL_SECONDS = 0.5  # the stretch after the last reading counts towards the peak cores if this long
CORES = os.cpu_count() or 1  # no tree keeps more cores busy than the machine has
GB = 1e9  # bytes in a GB (memory requests are in decimal GB)
STORE_EVERY = 5.0  # seconds between stores of a running task's live figures, at most
STORE_UNCHANGED = 60.0  # ... and at least, while they stay the same
CORES_CHANGE = 0.05  # live figures are stored again when the cores busy change by this
MEMORY_CHANGE = 0.01  # ... or the memory by this share


def child_rusage_cpu(rusage) -> float:
    """CPU seconds of a reaped child and of the children it reaped (from `os.wait4`)."""
    return rusage.ru_utime + rusage.ru_stime


def child_rusage_memory(rusage) -> int:
    """The largest resident memory of a reaped child or any one child it reaped, in bytes
    (Linux gives kilobytes, macOS bytes).
    """
    return rusage.ru_maxrss * (1 if sys.platform == "darwin" else 1024)


class TaskUsage:
    """The figures of one running task, kept between readings of its tree.

    Args:
        started: when the task started (epoch seconds).
        limit: the memory (bytes) the task may hold, 0 for no limit (with one, its tree is
            read every EVERY_WITH_LIMIT seconds).
        previous: figures an earlier scheduler stored for the task (kept: its CPU time,
            peaks and readings go on from there), or None.
        before: CPU seconds the task's process used before it was given the task (as a
            spare): taken off every reading.
    """

    def __init__(
        self, started: float, limit: float, previous: Usage | None = None, before: float = 0.0
    ):
        self.started = started
        self.before = before
        self.limit = limit
        self.limited = limit > 0
        self.tree_memory = TreeMemory()
        self.cpu = previous.cpu if previous else 0.0
        self.cores_peak = previous.cores_peak if previous else 0.0
        self.memory_peak = previous.memory_peak if previous else 0
        self.samples = previous.samples if previous else 0
        self.cores_now: float | None = None
        self.memory_now: int | None = None
        # the last reading: its CPU seconds, epoch and monotonic times (none yet: the start)
        self.last_cpu = self.cpu
        self.last_time = previous.updated if previous else started
        self.last_clock: float | None = None
        # monotonic time of the next reading (set by whoever reads the tree)
        self.due = time.monotonic() + (EVERY_WITH_LIMIT if self.limited else EVERY_AT_FIRST)
        self.stored: tuple[float, float, int] | None = None  # when (monotonic), cores, memory

    def interval(self) -> float:
        """Seconds from this reading to the next: every EVERY_WITH_LIMIT seconds with a
        memory limit, else every EVERY_AT_FIRST seconds in the first FIRST_SECONDS, then
        every EVERY seconds.
        """
        if self.limited:
            return EVERY_WITH_LIMIT
        return EVERY_AT_FIRST if time.time() - self.started < FIRST_SECONDS else EVERY

    def add(self, reading: TreeReading, clock: float, now: float) -> None:
        """Take in a reading made at `clock` (monotonic) and `now` (epoch seconds)."""
        seconds = clock - self.last_clock if self.last_clock is not None else now - self.last_time
        # time of a process reaped outside the tree is lost
        cpu = max(self.cpu, reading.cpu - self.before)
        if seconds > 0:
            self.cores_now = min(max(cpu - self.last_cpu, 0.0) / seconds, CORES)
            self.cores_peak = max(self.cores_peak, self.cores_now)
        self.cpu = self.last_cpu = cpu
        memory = self.tree_memory.measure(reading, clock, self.limit)
        self.memory_now = memory
        self.memory_peak = max(self.memory_peak, memory)
        self.samples += 1
        self.last_time, self.last_clock = now, clock

    def store_due(self, clock: float) -> bool:
        """Whether the live figures are to be stored now: at the first reading, then every
        STORE_EVERY seconds when they have changed, or STORE_UNCHANGED seconds when not.
        """
        if self.stored is None:
            return True
        when, cores, memory = self.stored
        if clock - when >= STORE_UNCHANGED:
            return True
        changed = (
            abs((self.cores_now or 0) - cores) >= CORES_CHANGE
            or abs((self.memory_now or 0) - memory) > MEMORY_CHANGE * memory
        )
        return changed and clock - when >= STORE_EVERY

    def live(self, clock: float) -> Usage:
        """The figures as of the last reading, to store now (at `clock`, monotonic)."""
        self.stored = (clock, self.cores_now or 0, self.memory_now or 0)
        wall = max(self.last_time - self.started, 0.0)
        return Usage(
            wall=wall,
            cpu=self.cpu,
            cores_peak=self.cores_peak,
            memory_peak=self.memory_peak,
            cores_now=self.cores_now,
            memory_now=self.memory_now,
            running=True,
            source=self.source(wall),
            samples=self.samples,
            updated=self.last_time,
        )

    def over_limit(self) -> bool:
        """Whether the tree held more memory than its limit at the last reading."""
        return self.limited and (self.memory_now or 0) > self.limit

    def source(self, wall: float) -> str:
        """How the figures were taken, in words."""
        if self.limited:
            every = f"every {EVERY_WITH_LIMIT:g} s"
        elif wall <= FIRST_SECONDS:
            every = f"every {EVERY_AT_FIRST:g} s"
        else:
            first = f"every {EVERY_AT_FIRST:g} s in its first {FIRST_SECONDS:g} s"
            every = f"every {EVERY:g} s ({first})"
        return f"sampled {every} by the local scheduler"

    def final(self, ended: float, rusage=None) -> Usage:
        """The figures of the whole run, once it ended at `ended` (epoch seconds).

        `rusage` (from `os.wait4` on the task's process) makes the CPU time exact and is a
        floor for the peak memory: the largest single process of the tree.
        """
        wall = max(ended - self.started, 0.0)
        cpu, memory_peak = self.cpu, self.memory_peak
        if rusage is not None:
            cpu = max(cpu, child_rusage_cpu(rusage) - self.before)
            memory_peak = max(memory_peak, child_rusage_memory(rusage))
        cores_peak = self.cores_peak
        tail = ended - self.last_time
        if self.samples and tail >= TAIL_SECONDS:
            cores_peak = max(cores_peak, min((cpu - self.last_cpu) / tail, CORES))
        if wall > 0:
            cores_peak = max(cores_peak, min(cpu / wall, CORES))  # the peak is at least the mean
        return Usage(
            wall=wall,
            cpu=cpu,
            cores_peak=cores_peak,
            memory_peak=memory_peak,
            running=False,
            source=self.source(wall),
            samples=self.samples,
            updated=ended,
        )
