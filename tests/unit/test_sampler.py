"""The figures the local scheduler keeps from readings of a task's process tree, and the
out-of-memory reason (no processes: readings are given)."""

import types

import pytest

from hipercow_magic.core.usage import Usage
from hipercow_magic.drivers.local.process_tree import CountingBudget, TreeReading
from hipercow_magic.drivers.local.sampler import EVERY_WITH_LIMIT, TaskUsage
from hipercow_magic.drivers.local.usage_watch import memory_limit, out_of_memory_reason

STARTED = 1_000_000.0


def test_cores_are_the_cpu_seconds_over_each_interval_and_the_peak_is_kept():
    usage = TaskUsage(STARTED, 0)
    usage.add(TreeReading(cpu=0.5, memory=50_000_000, pids=[1]), 100.0, STARTED + 1)
    assert usage.cores_now == pytest.approx(0.5)  # the first interval runs from the start
    usage.add(TreeReading(cpu=4.5, memory=80_000_000, pids=[1]), 102.0, STARTED + 3)
    assert usage.cores_now == pytest.approx(2.0)
    usage.add(TreeReading(cpu=5.0, memory=60_000_000, pids=[1]), 104.0, STARTED + 5)
    assert usage.cores_now == pytest.approx(0.25)
    live = usage.live(104.0)
    assert live.running and live.samples == 3
    assert (live.cpu, live.cores_peak) == (5.0, pytest.approx(2.0))
    assert (live.memory_now, live.memory_peak) == (60_000_000, 80_000_000)
    assert live.wall == 5
    assert live.source == "sampled every 1 s by the local scheduler"


def test_cpu_never_goes_back_when_a_process_leaves_the_tree():
    usage = TaskUsage(STARTED, 0)
    usage.add(TreeReading(cpu=3.0, memory=1, pids=[1, 2]), 100.0, STARTED + 1)
    usage.add(TreeReading(cpu=1.0, memory=1, pids=[1]), 101.0, STARTED + 2)
    assert usage.cpu == 3.0 and usage.cores_now == 0


def test_the_final_figures_take_the_kernels_account_of_the_reaped_process():
    usage = TaskUsage(STARTED, 0)
    usage.add(TreeReading(cpu=1.0, memory=10_000_000, pids=[1]), 100.0, STARTED + 1)
    # as os.wait4 gives it on Linux: CPU seconds, the largest process's peak in kB
    rusage = types.SimpleNamespace(ru_utime=1.2, ru_stime=0.6, ru_maxrss=50_000)
    final = usage.final(STARTED + 1.2, rusage)
    assert not final.running and final.cores_now is None and final.memory_now is None
    assert final.wall == pytest.approx(1.2)
    assert final.cpu == pytest.approx(1.8)  # the kernel's account: it ran after the reading
    assert final.memory_peak == 50_000 * 1024  # a floor above the readings' 10 MB
    assert final.cores_peak == pytest.approx(1.5)  # the peak is at least the mean


def test_the_cpu_a_process_used_as_a_spare_before_its_task_is_not_the_tasks():
    usage = TaskUsage(STARTED, 0, before=0.25)  # forking, warming and waiting for a task
    usage.add(TreeReading(cpu=1.25, memory=10_000_000, pids=[1]), 100.0, STARTED + 2)
    assert usage.cpu == pytest.approx(1.0) and usage.cores_now == pytest.approx(0.5)
    rusage = types.SimpleNamespace(ru_utime=1.5, ru_stime=0.25, ru_maxrss=50_000)
    assert usage.final(STARTED + 3, rusage).cpu == pytest.approx(1.5)


def test_a_task_ended_before_its_first_reading_has_its_mean_as_peak():
    final = TaskUsage(STARTED, 0).final(STARTED + 0.5)
    assert (final.wall, final.cpu, final.cores_peak, final.samples) == (0.5, 0.0, 0.0, 0)


def test_a_long_task_says_how_it_was_sampled():
    final = TaskUsage(STARTED, 0).final(STARTED + 60)
    assert final.source == (
        "sampled every 2 s (every 1 s in its first 10 s) by the local scheduler"
    )
    limited = TaskUsage(STARTED, 1e8).final(STARTED + 60)
    assert limited.source == f"sampled every {EVERY_WITH_LIMIT:g} s by the local scheduler"


def test_an_adopted_task_goes_on_from_the_figures_stored_before():
    before = Usage(
        wall=10, cpu=8.0, cores_peak=1.5, memory_peak=70, samples=6, updated=STARTED + 10
    )
    usage = TaskUsage(STARTED, 0, before)
    usage.add(TreeReading(cpu=10.0, memory=20, pids=[1]), 100.0, STARTED + 12)
    assert usage.cores_now == pytest.approx(1.0)  # 2 CPU seconds over 2 s since that reading
    assert (usage.cores_peak, usage.memory_peak, usage.samples) == (1.5, 70, 7)


def test_the_limit_is_over_only_above_it():
    usage = TaskUsage(STARTED, 100_000_000)
    usage.add(TreeReading(cpu=0, memory=100_000_000, pids=[1]), 100.0, STARTED + 1)
    assert not usage.over_limit()
    usage.add(TreeReading(cpu=0, memory=100_000_001, pids=[1]), 101.0, STARTED + 2)
    assert usage.over_limit()
    assert not TaskUsage(STARTED, 0).over_limit()


def test_out_of_memory_reasons_show_the_peak_above_the_limit():
    assert out_of_memory_reason(312_000_000, 0.1) == "out of memory (peak 0.31 GB > limit 0.1 GB)"
    assert out_of_memory_reason(2_460_000_000, 2) == "out of memory (peak 2.5 GB > limit 2 GB)"
    assert out_of_memory_reason(100_400_000, 0.1) == "out of memory (peak 0.1004 GB > limit 0.1 GB)"
    assert out_of_memory_reason(12_345_000_000, 8) == "out of memory (peak 12 GB > limit 8 GB)"


def test_the_memory_limit_is_what_the_placement_took():
    assert memory_limit({"memory": 0.5}) == 0.5
    assert memory_limit({"memory": 0}) == 0
    assert memory_limit({}) == 0


def test_live_figures_are_stored_first_then_when_they_change_or_now_and_then():
    usage = TaskUsage(STARTED, 0)
    usage.add(TreeReading(cpu=1.0, memory=100_000_000, pids=[1]), 100.0, STARTED + 1)
    assert usage.store_due(100.0)  # the first reading
    usage.live(100.0)
    usage.add(TreeReading(cpu=2.0, memory=100_000_000, pids=[1]), 101.0, STARTED + 2)
    assert not usage.store_due(101.0)  # changed, but stored less than 5 s ago
    usage.add(TreeReading(cpu=3.0, memory=100_000_000, pids=[1]), 105.0, STARTED + 6)
    assert usage.store_due(105.0)  # the cores went from 1 to 0.25
    usage.live(105.0)
    usage.add(TreeReading(cpu=4.5, memory=100_500_000, pids=[1]), 111.0, STARTED + 12)
    assert not usage.store_due(111.0)  # the same figures (within 0.05 cores and 1 %)
    usage.add(TreeReading(cpu=19.5, memory=100_000_000, pids=[1]), 165.0, STARTED + 66)
    assert usage.store_due(165.0)  # a minute since the last store


def test_counting_shared_pages_keeps_within_its_share_of_a_core():
    budget = CountingBudget(share=0.01, burst=0.05)
    assert budget.allows(100.0)
    budget.spend(0.06)  # a count that cost 60 ms: over the credit saved up
    assert not budget.allows(100.5)  # 5 ms earned back, still 5 ms short
    assert budget.allows(101.5)  # 15 ms earned: 5 ms left
    assert budget.allows(1000.0) and budget.credit == 0.05  # saved up to the burst, no more
