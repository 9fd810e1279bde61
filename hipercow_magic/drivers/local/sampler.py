"""What a running local task uses, read from its whole process tree (the task's process and
every process under it: a parallel pool's workers included), and the figures kept from
those readings: CPU seconds, the cores busy over each interval, the tree's memory now and
its peak.

One reading costs a few small /proc reads per process of the tree: its children (from
/proc/<pid>/task/*/children), its CPU times and its resident memory. The psutil objects of
a tree's processes are kept between readings, so a process is looked up once.

A tree's memory counts each page once, as a cgroup would: forked workers share their
parent's pages, so the sum of their resident sizes would count those pages once per worker.
For a tree of many processes it is the sum of their proportional set sizes (a shared page
split among the processes sharing it). Reading those makes the kernel walk each process's
page tables, so it is done at most at a budget of CPU time per tree; between two such
readings, what the tree gained or lost in resident memory is added to the last one.
"""

from __future__ import annotations

import dataclasses
import os
import sys
import time

import psutil

from hipercow_magic.core.procs import child_pids
from hipercow_magic.core.usage import Usage

EVERY = 2.0  # seconds between readings of a task's tree
EVERY_AT_FIRST = 1.0  # ... in its first FIRST_SECONDS, so a short task has figures
FIRST_SECONDS = 10.0
EVERY_WITH_LIMIT = 0.5  # a task with a memory limit: the limit is enforced within this
TAIL_SECONDS = 0.5  # the stretch after the last reading counts towards the peak cores if this long
CORES = os.cpu_count() or 1  # no tree keeps more cores busy than the machine has
GB = 1e9  # bytes in a GB (memory requests are in decimal GB)
SHARED_PAGES_BUDGET = 0.005  # the share of a core a tree's proportional set sizes may cost


@dataclasses.dataclass
class TreeReading:
    """One look at a task's process tree.

    Attributes:
        cpu: CPU seconds (user + system) of its live processes and of the children they
            have reaped.
        memory: the resident memory of its live processes, in bytes (the sum of their
            resident sizes: pages they share are counted once per process).
        processes: how many processes it has.
    """

    cpu: float
    memory: int
    processes: int


def read_tree(pid: int, known: dict[int, psutil.Process]) -> TreeReading | None:
    """Read the tree under `pid` (parents before their children); None once `pid` has gone.

    Args:
        pid: the task's process.
        known: the psutil objects of the tree's processes at the last reading, by pid;
            updated to those of this reading.
    """
    tree, level = [], [pid]
    while level:
        tree += level
        level = child_pids(level)
    cpu, memory, alive = 0.0, 0, {}
    for member in tree:
        try:
            process = known.get(member) or psutil.Process(member)
            with process.oneshot():
                times = process.cpu_times()
                resident = process.memory_info().rss
        except psutil.Error:
            if member == pid:
                return None
            continue  # ended since its parent listed it: its time goes to the parent's
        alive[member] = process
        cpu += times.user + times.system + times.children_user + times.children_system
        memory += resident
    known.clear()
    known.update(alive)
    return TreeReading(cpu, memory, len(alive))


def proportional_memory(processes) -> int:
    """The memory of `processes` with each page counted once, in bytes (the sum of their
    proportional set sizes; of their resident sizes where the system gives no such figure).
    """
    total = 0
    for process in processes:
        try:
            info = process.memory_full_info() if psutil.LINUX else process.memory_info()
        except psutil.Error:
            continue  # it has ended
        total += getattr(info, "pss", info.rss)
    return total


class TreeMemory:
    """A tree's memory with each page counted once, from its readings.

    A one-process tree's is its resident size. A tree of many has its proportional set
    sizes read at first, then again once their last reading's cost fits the budget
    (SHARED_PAGES_BUDGET of a core), or when the estimate passes a limit (so a limit is
    enforced on counted pages, not on an estimate); in between it is estimated as the last
    such figure plus the change in resident memory since.
    """

    def __init__(self):
        self.counted: int | None = None  # the last proportional figure
        self.resident_then = 0  # the tree's resident sum when it was read
        self.next_count = 0.0  # monotonic time it may be read again

    def measure(self, reading: TreeReading, processes, clock: float, limit: float = 0) -> int:
        """The tree's memory now (bytes), given this reading and the tree's processes.

        Args:
            reading: the tree's reading.
            processes: its live processes (psutil objects).
            clock: the reading's monotonic time.
            limit: the bytes the tree may hold (0: none).
        """
        if reading.processes <= 1:
            self.counted = None
            return reading.memory
        if self.counted is not None:
            estimate = max(self.counted + reading.memory - self.resident_then, 0)
            if clock < self.next_count and not (limit and estimate > limit):
                return estimate
        begun = time.perf_counter()
        self.counted = proportional_memory(processes)
        self.resident_then = reading.memory
        self.next_count = clock + (time.perf_counter() - begun) / SHARED_PAGES_BUDGET
        return self.counted


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
    """

    def __init__(self, started: float, limit: float, previous: Usage | None = None):
        self.started = started
        self.limit = limit
        self.limited = limit > 0
        self.processes: dict[int, psutil.Process] = {}
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
        self.written: float | None = None  # monotonic time of the last live figures stored

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
        cpu = max(self.cpu, reading.cpu)  # time of a process reaped outside the tree is lost
        if seconds > 0:
            self.cores_now = min(max(cpu - self.last_cpu, 0.0) / seconds, CORES)
            self.cores_peak = max(self.cores_peak, self.cores_now)
        self.cpu = self.last_cpu = cpu
        memory = self.tree_memory.measure(reading, self.processes.values(), clock, self.limit)
        self.memory_now = memory
        self.memory_peak = max(self.memory_peak, memory)
        self.samples += 1
        self.last_time, self.last_clock = now, clock

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

    def live(self, now: float) -> Usage:
        """The figures so far, as a live reading."""
        wall = max(now - self.started, 0.0)
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

    def final(self, ended: float, rusage=None) -> Usage:
        """The figures of the whole run, once it ended at `ended` (epoch seconds).

        `rusage` (from `os.wait4` on the task's process) makes the CPU time exact and is a
        floor for the peak memory: the largest single process of the tree.
        """
        wall = max(ended - self.started, 0.0)
        cpu, memory_peak = self.cpu, self.memory_peak
        if rusage is not None:
            cpu = max(cpu, child_rusage_cpu(rusage))
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
