"""Task starts and ends reach every kind of waiter at once, with real scheduler and task
processes: Changes.wait, task_wait, bundle waits (fail early and late), log watching; a lost
notice still ends in the right state; a root whose driver can't tell makes waits sleep.

The waiters' fallback look at the markers is set to an hour where a test shows an event
woke them: such a waiter that missed the event would still be waiting when the test gives
up on it (after WAIT seconds), so finishing at all is the proof. No timing is asserted.
"""

import contextlib
import io
import os
import signal
import socket
import threading
import time

import psutil
import pytest
from processes import scheduler_pid, wait_until

import hipercow_magic as hc
from hipercow_magic.core import store
from hipercow_magic.drivers.local import events
from hipercow_magic.engine import statuses
from hipercow_magic.engine.events import watch_changes

WAIT = 60
HOUR = 3600.0
# A task that prints, runs until its gate file exists, then fails if the gate says so.
GATED = (
    "import os, time\n"
    "print('waiting for the gate', flush=True)\n"
    "while not os.path.exists(GATE):\n"
    "    time.sleep(0.005)\n"
    "print('through the gate')\n"
    "if open(GATE).read() == 'fail':\n"
    "    raise RuntimeError('asked to fail')\n"
    "'done'"
)


@pytest.fixture
def no_fallback(monkeypatch):
    """Waiters look at the markers again only on an event (or after an hour)."""
    monkeypatch.setattr(statuses, "FALLBACK", HOUR)


def gated(tmp_path, name: str = "gate"):
    """A task running until `open(gate)`; and the gate's path."""
    gate = str(tmp_path / name)
    return hc.task_create_expr(GATED, namespace={"GATE": gate}), gate


def open_gate(gate: str, text: str = "") -> None:
    store.write_text(gate, text)


class Waiter:
    """A call run in a thread, its value (or error) collected by `value()`."""

    def __init__(self, fn, *args, **kwargs):
        self.box = {}
        self.thread = threading.Thread(target=self._run, args=(fn, args, kwargs), daemon=True)
        self.thread.start()

    def _run(self, fn, args, kwargs):
        try:
            self.box["value"] = fn(*args, **kwargs)
        except BaseException as e:
            self.box["error"] = e

    def value(self):
        self.thread.join(WAIT)
        assert not self.thread.is_alive(), "the waiter did not wake up"
        if "error" in self.box:
            raise self.box["error"]
        return self.box["value"]


def sockets(root) -> list[str]:
    try:
        return os.listdir(events.waiters_dir(root))
    except FileNotFoundError:
        return []


def subscribed(root, n: int = 1) -> None:
    """Wait until `n` waiters listen on the root."""
    wait_until(lambda: len(sockets(root)) >= n, WAIT)


def test_changes_wait_hears_a_start_and_an_end_once_the_markers_say_so(root, tmp_path):
    with watch_changes(root) as changes:
        assert changes.notifies and changes.drivers == {"local"}
        task, gate = gated(tmp_path)
        assert changes.wait(WAIT) is True
        assert task.id in changes.ids
        assert hc.task_status(task) == "running"
        open_gate(gate)
        assert changes.wait(WAIT) is True
        assert task.id in changes.ids
        assert hc.task_status(task) == "success"
        # the task tells of its own end, the scheduler again when it reaps the process: any
        # later notice is about this task only, and then they stop
        while changes.wait(0.5):
            assert changes.ids == {task.id}
        assert changes.ids == set()
    assert sockets(root) == []  # closing removed its socket


def test_task_wait_wakes_on_the_event(root, tmp_path, no_fallback):
    task, gate = gated(tmp_path)
    waiter = Waiter(task.wait)
    subscribed(root)
    open_gate(gate)
    assert waiter.value() is True
    assert task.result() == "done"


def test_wait_for_start_wakes_on_the_start(root, tmp_path, no_fallback):
    blocker, blocker_gate = gated(tmp_path, "blocker")
    assert blocker.wait(for_start=True, timeout=WAIT)
    gate = str(tmp_path / "gate")
    whole = hc.hipercow_resources(cores="Inf")  # queued until the blocker ends
    task = hc.task_create_expr(GATED, namespace={"GATE": gate}, resources=whole)
    waiter = Waiter(task.wait, for_start=True)
    subscribed(root)
    assert hc.task_status(task) == "submitted"
    open_gate(blocker_gate)
    assert waiter.value() is True
    assert hc.task_status(task) == "running"
    open_gate(gate)
    assert task.wait(timeout=WAIT) and blocker.wait(timeout=WAIT)


def test_bundle_wait_fails_early_on_the_first_failure(example_root, tmp_path, no_fallback):
    gates = [str(tmp_path / f"gate-{k}") for k in range(3)]
    bundle = hc.task_create_bulk_expr(GATED, [{"GATE": g} for g in gates])
    early = Waiter(hc.hipercow_bundle_wait, bundle, fail_early=True)
    late = Waiter(bundle.wait, fail_early=False)
    subscribed(example_root, 2)
    open_gate(gates[1], "fail")
    assert early.value() is False
    assert bundle.status()[1] == "failure"
    assert late.thread.is_alive()  # the others can't end before their gates open
    open_gate(gates[0])
    open_gate(gates[2])
    assert late.value() is False
    assert bundle.status() == ["success", "failure", "success"]


def test_bundle_wait_of_tasks_that_all_succeed(example_root, tmp_path, no_fallback):
    gates = [str(tmp_path / f"gate-{k}") for k in range(4)]
    bundle = hc.task_create_bulk_expr(GATED, [{"GATE": g} for g in gates])
    waiter = Waiter(bundle.wait, progress=True)
    subscribed(example_root)
    for gate in gates:
        open_gate(gate)
    assert waiter.value() is True
    assert bundle.result() == ["done"] * 4


def test_log_watch_sees_the_end(root, tmp_path, no_fallback):
    task, gate = gated(tmp_path)
    out = io.StringIO()
    watcher = Waiter(hc.task_log_watch, task, poll=HOUR, out=out)
    subscribed(root)
    wait_until(lambda: "waiting for the gate" in (hc.task_log_value(task) or ""), WAIT)
    open_gate(gate)
    assert watcher.value() is True
    assert "through the gate" in out.getvalue()


def test_cancelling_tells_waiters(root, tmp_path, no_fallback):
    task, _ = gated(tmp_path)
    assert task.wait(for_start=True, timeout=WAIT)
    waiter = Waiter(task.wait)
    subscribed(root)
    assert hc.task_cancel(task) is True
    assert waiter.value() is False
    assert hc.task_status(task) == "cancelled"


def test_a_lost_notice_still_ends_in_the_right_state(root, tmp_path):
    task, gate = gated(tmp_path)
    assert task.wait(for_start=True, timeout=WAIT)
    waiter = Waiter(task.wait)
    subscribed(root)
    # No notice can reach the waiter: its socket is gone from the folder (as on a file
    # system that drops sockets), and the scheduler is killed before the task ends.
    for name in sockets(root):
        os.unlink(os.path.join(events.waiters_dir(root), name))
    pid = scheduler_pid(root)
    scheduler = psutil.Process(pid)
    os.kill(pid, signal.SIGKILL)
    scheduler.wait(WAIT)
    open_gate(gate)
    assert waiter.value() is True
    assert task.result() == "done"


def test_a_dead_waiters_socket_is_removed_by_the_next_notice(root, tmp_path):
    os.makedirs(events.waiters_dir(root), exist_ok=True)
    dead = os.path.join(events.waiters_dir(root), "deadbeef")
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as s:
        s.bind(dead)  # closed without removing its file, as by a killed process
    with watch_changes(root) as changes:
        task = hc.task_create_expr("1", namespace={})
        assert task.wait(timeout=WAIT)
        assert changes.wait(WAIT) and task.id in changes.ids
        # the sender may reach this waiter's socket before the dead one: removed soon after
        wait_until(lambda: not os.path.exists(dead), WAIT)
        assert len(sockets(root)) == 1  # this waiter's own


def test_many_ids_reach_a_waiter_in_several_notices(root):
    ids = [f"{k:032x}" for k in range(events.IDS_PER_NOTICE * 2 + 5)]
    with watch_changes(root) as changes:
        events.announce(root, ids)
        assert changes.wait(WAIT) is True
        assert changes.ids == set(ids)


def test_a_root_without_a_driver_that_tells_makes_waits_sleep(bare_root):
    with watch_changes(bare_root) as changes:
        assert not changes.notifies and changes.drivers == frozenset()
        assert changes.wait(0.01) is False and changes.ids == set()
    assert sockets(bare_root) == []


def test_a_forked_child_closing_its_copy_leaves_the_parent_listening(root):
    with watch_changes(root) as changes:
        pid = os.fork()
        if pid == 0:  # as a process forked from a kernel that waits, then exits
            changes.close()
            os._exit(0)
        os.waitpid(pid, 0)
        assert len(sockets(root)) == 1
        events.announce(root, ["a" * 32])
        assert changes.wait(WAIT) is True and changes.ids == {"a" * 32}


def test_a_batch_worked_through_tells_a_waiter_of_every_start_and_end(root, no_fallback):
    # more tasks than cores: most wait to be placed, so their notices are gathered
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    os.makedirs(events.waiters_dir(root), exist_ok=True)
    listener.bind(os.path.join(events.waiters_dir(root), "cafef00d"))
    listener.settimeout(0.2)
    named: list[str] = []
    done = threading.Event()

    def listen():  # as a waiter does: reads each notice as it comes
        while not done.is_set():
            with contextlib.suppress(TimeoutError):
                named.extend(listener.recv(1 << 16).decode().split())

    with listener:
        thread = threading.Thread(target=listen, daemon=True)
        thread.start()
        bundle = hc.task_create_bulk_expr("i * 2", [{"i": i} for i in range(40)], namespace={})
        assert bundle.wait(timeout=WAIT) is True
        assert bundle.result() == [i * 2 for i in range(40)]
        wait_until(lambda: all(named.count(i) >= 2 for i in bundle.ids), WAIT)
        done.set()
        thread.join(WAIT)


def test_notices_go_out_at_once_unless_a_batch_is_worked_through(root):
    announcer = events.Announcer(root)
    with watch_changes(root) as changes:
        assert announcer.due() == float("inf")  # nothing held
        announcer.add("a" * 32)
        announcer.flush(busy=False)
        assert changes.wait(WAIT) and changes.ids == {"a" * 32}

        announcer.sent = time.monotonic() + HOUR  # a notice just went: a batch's are held
        announcer.add("b" * 32)
        announcer.flush(busy=True)
        assert changes.wait(0.05) is False
        assert announcer.due() > events.BATCH_GAP
        announcer.add("c" * 32)
        announcer.sent = time.monotonic() - events.BATCH_GAP  # the gap has passed
        assert announcer.due() == 0.0
        announcer.flush(busy=True)  # one notice naming both
        assert changes.wait(WAIT) and changes.ids == {"b" * 32, "c" * 32}

        announcer.add("d" * 32)  # the last of a batch goes at once, however soon
        announcer.flush(busy=False)
        assert changes.wait(WAIT) and changes.ids == {"d" * 32}
        assert announcer.due() == float("inf")
