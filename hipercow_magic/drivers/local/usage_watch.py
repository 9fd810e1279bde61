"""The local scheduler's watch on what its running tasks use: reading each task's process
tree when due, storing live figures while it runs and the final ones when it ends, and
stopping a task whose tree holds more memory than it asked for (as Slurm's cgroups would).
"""

from __future__ import annotations

import math
import time

from hipercow_magic.core import store
from hipercow_magic.core.failures import OUT_OF_MEMORY
from hipercow_magic.core.usage import write_usage
from hipercow_magic.drivers.local.process_tree import read_tree
from hipercow_magic.drivers.local.sampler import GB

TOGETHER = 0.25  # tasks due within this many seconds are read in the same pass


def next_turn(clock: float, interval: float) -> float:
    """When a tree read at `clock` (monotonic) is read next: at the next multiple of its
    interval, so the trees of many tasks are read in one pass and the scheduler wakes once.
    """
    return (math.floor((clock + TOGETHER) / interval) + 1) * interval


def memory_limit(entry: dict) -> float:
    """The memory (GB) a running task may hold: what its placement took on its node
    (memory_per_node, else memory_per_process x cores); 0 for no limit.
    """
    return entry.get("memory") or 0


def out_of_memory_reason(peak: int, limit: float) -> str:
    """'out of memory (peak 0.31 GB > limit 0.1 GB)': the peak with two significant
    digits, or more where two would not show it above the limit.
    """
    for digits in (2, 3, 4, 6):
        shown = float(f"{peak / GB:.{digits}g}")
        if shown > limit:
            break
    return f"out of memory (peak {shown:g} GB > limit {limit:g} GB)"


class UsageWatch:
    """The usage half of the Scheduler (a mixin: it uses the scheduler's `root`, `running`,
    and its `guard` and `stop`).
    """

    def sample_usage(self) -> None:
        """Read the trees of the running tasks whose reading is due (or nearly)."""
        clock = time.monotonic()
        for task_id, run in list(self.running.items()):
            if run.killed_reason is None and run.usage.due <= clock + TOGETHER:
                self.guard(f"measuring task {task_id}", self.sample_task, task_id, run, clock)

    def sample_task(self, task_id: str, run, clock: float) -> None:
        """Read one task's tree: store its live figures when due (TaskUsage.store_due), or
        stop it if its tree holds more than its memory limit.
        """
        usage = run.usage
        usage.due = next_turn(clock, usage.interval())
        reading = read_tree(run.pid)
        if reading is None:  # it has ended: the scheduler is told and records its end
            return
        usage.add(reading, clock, time.time())
        if usage.over_limit():
            reason = out_of_memory_reason(usage.memory_peak, memory_limit(run.entry))
            self.stop(task_id, run, reason, OUT_OF_MEMORY)
        elif usage.store_due(clock):
            write_usage(self.root, task_id, usage.live(clock))

    def usage_due(self) -> float:
        """Seconds until a running task's next reading is due (inf when none is)."""
        clock = time.monotonic()
        dues = [r.usage.due for r in self.running.values() if r.killed_reason is None]
        return max(min(dues) - clock, 0.0) if dues else math.inf

    def record_usage(self, task_id: str, run) -> None:
        """Store an ended task's final figures: wall time to its recorded finish, and CPU
        time and peak memory from its readings and (for a process the scheduler reaped)
        the kernel's account of it. Nothing is stored for a task nothing was measured of.
        """
        if not run.usage.samples and run.rusage is None:
            return
        times = store.read_json_or(self.root.task_file(task_id, "times.json")) or {}
        ended = times.get("finished") or time.time()
        write_usage(self.root, task_id, run.usage.final(ended, run.rusage))
