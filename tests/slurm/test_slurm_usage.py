"""What Slurm tasks used, on the project's Slurm with its accounting database
(scripts/setup.d/20-slurm.sh starts it so): a live reading while a task runs (sstat), its
final figures after the end (sacct; one call per poll however many tasks it finds
finished), and a job past its memory request ending out of memory.
"""

import os
import subprocess

import pytest
from processes import skip_or_fail, wait_until

import hipercow_magic as hm
from hipercow_magic.api.usage import usage_words
from hipercow_magic.core.failures import failure_class
from hipercow_magic.core.root import find_root
from hipercow_magic.core.task import marker_status
from hipercow_magic.core.usage import read_usage
from hipercow_magic.drivers.registry import load_driver

pytestmark = [pytest.mark.slurm, pytest.mark.usefixtures("in_root")]
MB = 1024**2
SACCT = "/usr/bin/sacct"

# 200 MB held while two processes of the task burn 3 CPU seconds each.
BURNS_AND_HOLDS = """
import subprocess
import sys


def burn_and_hold():
    held = bytearray(200 * 1024 * 1024)
    for at in range(0, len(held), 4096):
        held[at] = 1
    burn = "import time\\nwhile time.process_time() < 3: pass"
    workers = [subprocess.Popen([sys.executable, "-c", burn]) for _ in range(2)]
    return sum(w.wait() for w in workers) + len(held) // (1024 * 1024)


burn_and_hold()
"""


@pytest.fixture(scope="module", autouse=True)
def accounting():
    """Skip (fail in CI) where Slurm keeps no accounting: sacct answers nothing then."""
    proc = subprocess.run([SACCT, "-n", "-j", "1"], capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        skip_or_fail(f"Slurm keeps no accounting (SLURM_WITH_DBD=1 start-slurm.sh): {proc.stderr}")


@pytest.fixture(scope="module")
def driver(root_path):
    return load_driver(find_root(str(root_path)), "slurm")


@pytest.mark.slow
def test_a_task_shows_live_then_final_figures_of_its_whole_process_tree(driver):
    task = hm.task_create_expr(
        BURNS_AND_HOLDS, resources=hm.hipercow_resources(cores=2, memory_per_node=1)
    )
    live = wait_until(
        lambda: (u := hm.task_usage(task)) is not None and u.memory_peak > 150 * MB and u,
        timeout=120,
        every=0.5,  # each look asks Slurm
    )
    assert live.running and live.source == "Slurm sstat, read every poll"
    assert live.memory_now is not None and live.cores_now is not None
    assert task.wait(timeout=180) is True
    # The first look after the end reads the figures from accounting (once recorded).
    final = wait_until(lambda: driver.usage([task.id]).get(task.id), timeout=120, every=0.5)
    assert final == read_usage(task.root, task.id)  # kept in the task's usage.json
    assert not final.running and final.source == "Slurm accounting (sacct)"
    assert final.cpu >= 5.5  # two workers x 3 CPU seconds, counted by the kernel
    assert 3 <= final.wall < 180
    assert 150 * MB < final.memory_peak < 800 * MB  # sampled every second: broad bounds
    assert hm.task_usage(task) == final
    words = usage_words(task.root, task.id)
    assert words.startswith("used ") and "of 2 cores on average" in words and "of 1 GB" in words


@pytest.mark.slow
def test_one_sacct_per_poll_reads_a_hundred_finished_tasks(tmp_path, monkeypatch, root_path):
    calls = tmp_path / "sacct-calls"
    calls.touch()
    wrapper = tmp_path / "bin" / "sacct"
    wrapper.parent.mkdir()
    wrapper.write_text(f'#!/bin/sh\necho "$*" >> {calls}\nexec {SACCT} "$@"\n')
    wrapper.chmod(0o755)
    monkeypatch.setenv("PATH", f"{wrapper.parent}:{os.environ['PATH']}")

    def sacct_calls() -> int:
        return len(calls.read_text().splitlines())

    # A task that keeps running, so that polls go on after the hundred have finished.
    sentinel = hm.task_create_expr("import time\ntime.sleep(600)")
    bundle = hm.task_create_bulk_expr("x * 2", [{"x": i} for i in range(100)])
    root = find_root(str(root_path))
    every = [*bundle.ids, sentinel.id]
    hm.task_status(every)  # one poll sees them all in flight
    # They finish without being asked about: the runner writes each task's end.
    wait_until(lambda: all(marker_status(root, i) == "success" for i in bundle.ids), 400, 0.5)
    # Wait until accounting has recorded all of them, asking it ourselves (not counted).
    job = load_driver(root, "slurm").job_record(bundle.ids[0])["array_job_id"]

    def recorded() -> bool:
        rows = subprocess.run(
            [SACCT, "-n", "-P", "-j", job, "-o", "JobID,State"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.splitlines()
        batch = [r for r in rows if r.split("|")[0].endswith(".batch")]
        return len(batch) == 100 and all(r.split("|")[1] == "COMPLETED" for r in batch)

    wait_until(recorded, timeout=120, every=0.5)
    before = sacct_calls()
    assert hm.task_status(sentinel) == "running"  # the next poll, for the sentinel alone
    assert sacct_calls() - before == 1  # one sacct for the hundred tasks found finished
    asked = calls.read_text().splitlines()[-1].split()
    assert len(asked[asked.index("-j") + 1].split(",")) == 100
    figures = [read_usage(root, i) for i in bundle.ids]
    assert all(u is not None and u.source == "Slurm accounting (sacct)" for u in figures)
    assert all(u.wall >= 0 and u.cpu > 0 for u in figures)
    before = sacct_calls()
    hm.task_status(sentinel)
    assert sacct_calls() == before  # nothing left to read: no sacct at all
    hm.task_cancel(sentinel)


def test_a_task_past_its_memory_request_fails_out_of_memory():
    task = hm.task_create_expr(
        "import time\nheld = bytearray(400 * 1024 * 1024)\n"
        "for at in range(0, len(held), 4096):\n    held[at] = 1\ntime.sleep(120)",
        resources=hm.hipercow_resources(memory_per_node="0.1"),
    )
    assert task.wait(timeout=180) is False
    assert task.status() == "failure"
    assert failure_class(task.root, task.id) == "out_of_memory"
    info = hm.task_info(task.id)
    assert "out of memory (peak " in info.reason and "> limit 103 MB)" in info.reason
    assert "[FAILED, exit code 0:9]" in info.reason  # killed by Slurm's accounting
    assert "out of memory" in str(info)


def test_without_accounting_figures_are_simply_unknown(tmp_path, monkeypatch):
    # A cluster that keeps no accounting: sacct answers as Slurm does there.
    fake = tmp_path / "bin" / "sacct"
    fake.parent.mkdir()
    fake.write_text("#!/bin/sh\necho 'Slurm accounting storage is disabled' >&2\nexit 1\n")
    fake.chmod(0o755)
    monkeypatch.setenv("PATH", f"{fake.parent}:{os.environ['PATH']}")
    path = tmp_path / "elsewhere"
    path.mkdir()
    monkeypatch.chdir(path)
    hm.hipercow_init(str(path), driver="slurm", poll_interval=0.5)
    task = hm.task_create_expr("6 * 7", namespace={})
    assert task.wait(timeout=120) is True
    assert load_driver(find_root(str(path)), "slurm").usage([task.id]) == {}
    assert hm.task_usage(task) is None
    assert usage_words(task.root, task.id) is None
    assert task.result() == 42
