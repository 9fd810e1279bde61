"""The local scheduler's spare processes (forked ahead of the next tasks), with real
processes: what ps shows, what they hold, which one a task is given, and that killing them or
their scheduler loses nothing.
"""

import os
import signal
import time

import psutil
import pytest
from processes import pid_alive, scheduler_pid, stop_local_scheduler, wait_until

import hipercow_magic as hc
from hipercow_magic.core.procs import dying
from hipercow_magic.core.task import read_marker
from hipercow_magic.drivers.local.launching import SPARES

WAIT = 60


@pytest.fixture
def quick_root(tmp_path, monkeypatch, capsys):
    """A root whose scheduler exits after 3 idle seconds."""
    monkeypatch.chdir(tmp_path)
    root = hc.hipercow_init(".", driver="local", idle_timeout=3)
    capsys.readouterr()
    yield root
    stop_local_scheduler(root)


def result(task):
    """The task's value, once it has ended."""
    assert task.wait(timeout=WAIT), (task.status(), task.info().reason, task.log())
    return task.result()


def spares(scheduler: int) -> list[psutil.Process]:
    """The scheduler's children waiting for a task, as ps shows them: oldest first."""
    try:
        children = psutil.Process(scheduler).children()
    except psutil.NoSuchProcess:
        return []
    found = []
    for child in children:
        try:
            if child.cmdline()[:1] == [f"hipercow spare of scheduler {scheduler}"]:
                found.append((child.create_time(), child.pid, child))
        except psutil.NoSuchProcess:
            pass
    return [child for _, _, child in sorted(found)]


def all_spares(scheduler: int) -> list[psutil.Process]:
    """The scheduler's spares once as many wait as it keeps when quiet: oldest first."""
    return wait_until(lambda: len(found := spares(scheduler)) == SPARES and found)


def _held_beyond_stdio(pid: int) -> list[str]:
    """What a process holds open besides its descriptors 0, 1 and 2."""
    folder = f"/proc/{pid}/fd"
    return [os.readlink(f"{folder}/{fd}") for fd in os.listdir(folder) if int(fd) > 2]


def _held_once_waiting(pid: int) -> list[str]:
    """What a spare holds beyond stdio once it holds just one thing."""
    return wait_until(lambda: len(held := _held_beyond_stdio(pid)) == 1 and held)


def test_spares_wait_titled_by_their_scheduler_and_hold_nothing_of_it(root):
    assert result(hc.task_create_expr("1 + 1", namespace={})) == 2
    scheduler = scheduler_pid(root)
    for spare in all_spares(scheduler):
        with open(f"/proc/{spare.pid}/comm") as f:
            assert f.read().strip() == "hipercow-spare"
        assert root.path not in " ".join(spare.cmdline())  # `pkill -f ROOT` finds tasks only
        # once it waits (it reads its own memory map for a moment as it starts to warm), it
        # holds besides stdin/stdout/stderr only the pipe its orders come on: not the root's
        # lock (which would keep the root locked after its scheduler ended), nor its socket
        assert _held_once_waiting(spare.pid)[0].startswith("pipe:")


def test_a_task_runs_in_the_oldest_spare_then_a_new_spare_waits(root):
    hc.task_create_expr("1", namespace={}).wait(timeout=WAIT)
    scheduler = scheduler_pid(root)
    oldest, younger = all_spares(scheduler)
    task = hc.task_create_expr("import os\nos.getpid()", namespace={})
    assert result(task) == oldest.pid
    after = [spare.pid for spare in all_spares(scheduler)]
    assert after[0] == younger.pid and oldest.pid not in after


def test_two_tasks_submitted_together_each_start_in_a_waiting_spare(root):
    hc.task_create_expr("1", namespace={}).wait(timeout=WAIT)
    scheduler = scheduler_pid(root)
    waiting = {spare.pid for spare in all_spares(scheduler)}
    tasks = [hc.task_create_expr("import os\nos.getpid()", namespace={}) for _ in range(2)]
    assert {result(task) for task in tasks} == waiting


def test_killed_spares_lose_no_task(root):
    hc.task_create_expr("1", namespace={}).wait(timeout=WAIT)
    scheduler = scheduler_pid(root)
    for spare in all_spares(scheduler):
        spare.kill()
    tasks = [hc.task_create_expr("i * 3", namespace={"i": i}) for i in range(4)]
    assert [result(t) for t in tasks] == [0, 3, 6, 9]
    assert all(t.status() == "success" for t in tasks)
    assert scheduler_pid(root) == scheduler  # the same scheduler forked others


def test_the_spares_end_with_their_scheduler(quick_root):
    hc.task_create_expr("1", namespace={}).wait(timeout=WAIT)
    scheduler = scheduler_pid(quick_root)
    waiting = all_spares(scheduler)
    # idle for 3 s, the scheduler exits and lets its spares go: nothing is left behind
    wait_until(lambda: not pid_alive(scheduler), timeout=WAIT)
    wait_until(lambda: not any(pid_alive(spare.pid) for spare in waiting), timeout=10)
    # killed outright, a new one's spares see their pipes close and exit by themselves
    task = hc.task_create_expr("1", namespace={})
    assert result(task) == 1
    scheduler = scheduler_pid(quick_root)
    waiting = all_spares(scheduler)
    os.kill(scheduler, signal.SIGKILL)
    wait_until(lambda: not any(pid_alive(spare.pid) for spare in waiting), timeout=10)
    assert result(hc.task_create_expr("2", namespace={})) == 2  # the root is not left locked


def _own_share(process: psutil.Process) -> float:
    """The part of a process's resident memory no other process maps (0 once it has gone)."""
    try:
        memory = process.memory_full_info()
    except psutil.NoSuchProcess:
        return 0.0
    return memory.uss / memory.rss


def test_a_waiting_spare_warms_and_its_task_is_not_charged_for_that(root):
    assert result(hc.task_create_expr("1 + 1", namespace={})) == 2
    scheduler = scheduler_pid(root)
    spare = all_spares(scheduler)[0]  # the oldest: the next task's
    # a fresh fork shares nearly all its memory with the scheduler; a warmed spare has made
    # its writable memory its own (only the programs' code stays shared)
    wait_until(lambda: _own_share(spare) > 0.3)
    task = hc.task_create_expr("time.process_time()", namespace={"time": time})
    process_cpu = result(task)  # the process's CPU so far, as a spare and then the task's
    claim = read_marker(root, task.id, "running")
    assert claim["pid"] == spare.pid and claim["spare_cpu"] > 0
    usage = wait_until(lambda: (u := hc.task_usage(task.id)) is not None and not u.running and u)
    # the kernel's account of the whole process, less what it used before it had the task
    assert usage.cpu < process_cpu
    assert usage.cpu >= process_cpu - claim["spare_cpu"]


def test_a_task_handed_to_its_process_ends_with_it_even_before_its_code_began(root):
    assert result(hc.task_create_expr("1", namespace={})) == 1
    scheduler = scheduler_pid(root)
    waiting = all_spares(scheduler)
    for spare in waiting:
        spare.suspend()  # stopped, it can't read a task it is given
    task = hc.task_create_expr("1", namespace={})
    assert task.wait(for_start=True, timeout=WAIT)
    given = hc.task_info(task).scheduler["pid"]
    assert given == waiting[0].pid
    waiting[0].kill()
    for spare in waiting[1:]:
        spare.resume()
    # the task was its process's: killed, it failed (it is not run again behind the user's back)
    assert task.wait(timeout=WAIT) is False
    assert "killed by SIGKILL" in task.info().reason
    assert not os.path.exists(root.task_file(task.id, "log"))  # none of its code ran


def test_a_process_sent_a_kill_counts_as_dying_until_it_is_reaped():
    pid = os.fork()
    if pid == 0:
        time.sleep(WAIT)
        os._exit(0)
    try:
        assert not dying(pid)
        os.kill(pid, signal.SIGSTOP)  # stopped is not dying: a stopped spare is given tasks
        wait_until(lambda: psutil.Process(pid).status() == psutil.STATUS_STOPPED)
        assert not dying(pid)
        os.kill(pid, signal.SIGKILL)
        assert dying(pid)  # at once, whether the kill is still pending or done
    finally:
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
