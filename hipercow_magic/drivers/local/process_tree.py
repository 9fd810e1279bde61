"""Reading a task's whole process tree (the task's process and every process under it: a
parallel pool's workers included): CPU seconds, resident memory, and memory with each page
counted once.

On Linux a reading costs two small /proc reads per process: /proc/<pid>/stat (CPU times,
those of reaped children, threads, resident pages) and the process's children (from
/proc/<pid>/task/<tid>/children: one file for a one-thread process). Elsewhere psutil
gives the same figures.

A tree's memory counts each page once, as a cgroup would: forked workers share their
parent's pages, so the sum of their resident sizes would count those pages once per worker.
For a tree of many processes it is the sum of their proportional set sizes (a shared page
split among the processes sharing it). Reading those makes the kernel walk each process's
page tables, so it is done within a budget of CPU time shared by all trees; between two
such counts, what the tree gained or lost in resident memory is added to the last one.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import time

import psutil

from hipercow_magic.core.procs import child_pids, stat_fields

SHARED_PAGES_BUDGET = 0.005  # the share of a core counting shared pages may cost in all
PROC = os.path.exists("/proc/self/stat")
TICKS = os.sysconf("SC_CLK_TCK") if PROC else 100  # /proc/<pid>/stat counts CPU in these
PAGE = os.sysconf("SC_PAGE_SIZE") if PROC else 4096


@dataclasses.dataclass
class TreeReading:
    """One look at a task's process tree.

    Attributes:
        cpu: CPU seconds (user + system) of its live processes and of the children they
            have reaped.
        memory: the resident memory of its live processes, in bytes (the sum of their
            resident sizes: pages they share are counted once per process).
        pids: its processes, parents before their children.
    """

    cpu: float
    memory: int
    pids: list[int]


def process_figures(pid: int) -> tuple[float, int, int] | None:
    """A process's CPU seconds (its own and its reaped children's), resident bytes and
    threads; None once it has gone.
    """
    if not PROC:
        try:
            process = psutil.Process(pid)
            with process.oneshot():
                t = process.cpu_times()
                cpu = t.user + t.system + t.children_user + t.children_system
                return cpu, process.memory_info().rss, process.num_threads()
        except psutil.Error:
            return None
    fields = stat_fields(pid)
    if fields is None:
        return None
    utime, stime, cutime, cstime = (int(v) for v in fields[11:15])
    return (utime + stime + cutime + cstime) / TICKS, int(fields[21]) * PAGE, int(fields[17])


def children(pid: int, threads: int) -> list[int]:
    """A process's children (for a one-thread process, from its one children file)."""
    if PROC and threads == 1:
        try:
            with open(f"/proc/{pid}/task/{pid}/children", "rb") as f:
                return [int(c) for c in f.read().split()]
        except OSError:
            return []
    return child_pids([pid])


def read_tree(pid: int) -> TreeReading | None:
    """Read the tree under `pid` (each process before its children); None once `pid` has
    gone.
    """
    cpu, memory, pids, level = 0.0, 0, [], [pid]
    while level:
        below = []
        for member in level:
            figures = process_figures(member)
            if figures is None:
                if member == pid:
                    return None
                continue  # ended since its parent listed it: its time goes to the parent's
            cpu += figures[0]
            memory += figures[1]
            pids.append(member)
            below += children(member, figures[2])
        level = below
    return TreeReading(cpu, memory, pids)


def proportional_memory(pids: list[int]) -> int:
    """The memory of these processes with each page counted once, in bytes (the sum of
    their proportional set sizes; of their resident sizes where the system gives none).
    """
    total = 0
    for pid in pids:
        with contextlib.suppress(psutil.Error):  # it has ended
            process = psutil.Process(pid)
            info = process.memory_full_info() if psutil.LINUX else process.memory_info()
            total += getattr(info, "pss", info.rss)
    return total


class CountingBudget:
    """The CPU time that counting shared pages may take, for all the trees of a process
    together: `share` of a core, saved up to `burst` seconds while nothing is counted.
    """

    def __init__(self, share: float, burst: float):
        self.share = share
        self.burst = burst
        self.credit = burst  # seconds of counting allowed now
        self.clock: float | None = None  # monotonic time of the credit

    def allows(self, clock: float) -> bool:
        """Whether a count may be made at `clock` (monotonic)."""
        if self.clock is not None:
            self.credit = min(self.credit + (clock - self.clock) * self.share, self.burst)
        self.clock = clock
        return self.credit > 0

    def spend(self, seconds: float) -> None:
        """Take a count's cost from the credit (which may go below zero)."""
        self.credit -= seconds


SCHEDULER_BUDGET = CountingBudget(SHARED_PAGES_BUDGET, burst=0.1)


class TreeMemory:
    """A tree's memory with each page counted once, from its readings.

    A one-process tree's is its resident size. A tree of many has its proportional set
    sizes counted when it first has many, again when the budget shared by every tree
    allows (SHARED_PAGES_BUDGET of a core), and whenever the estimate passes a limit (so a
    limit is enforced on counted pages, not on an estimate); in between it is estimated as
    the last count plus the change in resident memory since.

    Args:
        budget: the budget the counts come out of (by default, one for the whole process).
    """

    def __init__(self, budget: CountingBudget = SCHEDULER_BUDGET):
        self.budget = budget
        self.counted: int | None = None  # the last proportional figure
        self.resident_then = 0  # the tree's resident sum when it was read

    def measure(self, reading: TreeReading, clock: float, limit: float = 0) -> int:
        """The tree's memory now (bytes), from this reading.

        Args:
            reading: the tree's reading.
            clock: the reading's monotonic time.
            limit: the bytes the tree may hold (0: none).
        """
        if len(reading.pids) <= 1:
            self.counted = None
            return reading.memory
        if self.counted is not None:
            estimate = max(self.counted + reading.memory - self.resident_then, 0)
            if not (limit and estimate > limit) and not self.budget.allows(clock):
                return estimate
        begun = time.perf_counter()
        self.counted = proportional_memory(reading.pids)
        self.resident_then = reading.memory
        self.budget.spend(time.perf_counter() - begun)
        return self.counted
