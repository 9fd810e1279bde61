"""The store under faults: writers racing for a task's terminal state (exactly one wins, the
loser writes nothing), swapped or unsigned pickles (refused, their code never runs), a full
disk while creating tasks and while saving a result (clear errors, no half-written folder,
the root works once space is back).
"""

from __future__ import annotations

import os
import pickle
import subprocess
import sys
import textwrap
import threading

import pytest
from processes import source_environment, stop_local_scheduler

import hipercow_magic as hc
from hipercow_magic import HipercowError
from hipercow_magic.core import store
from hipercow_magic.core.root import init_root
from hipercow_magic.core.task import marker_status, new_id, read_marker, write_terminal

WAIT = 60


class RunsCode:
    """A pickle that, when loaded, writes a file (stands in for any code)."""

    def __init__(self, path):
        self.path = path

    def __reduce__(self):
        return (exec, (f"open({self.path!r}, 'w').write('ran')",))


def test_a_swapped_result_is_refused_and_its_code_never_runs(root, tmp_path):
    task = hc.task_create_expr("40 + 2", namespace={})
    other = hc.task_create_expr("'other'", namespace={})
    assert task.wait(timeout=WAIT) and other.wait(timeout=WAIT)
    assert task.result() == 42
    path = root.task_file(task.id, "result.pkl")
    ran = tmp_path / "ran"
    good = store.read_bytes(path)

    store.write_bytes(path, pickle.dumps(RunsCode(str(ran))))  # unsigned
    with pytest.raises(HipercowError, match="is not signed") as e:
        task.result()
    assert f"'{path}'" in str(e.value) and "Create the task again" in str(e.value)

    signed_elsewhere = store.read_bytes(root.task_file(other.id, "result.pkl"))
    changed = good[:-12] + pickle.dumps(RunsCode(str(ran)))[-12:]
    for swapped in (signed_elsewhere, changed):
        store.write_bytes(path, swapped)
        for read in (task.result, task.exports):
            with pytest.raises(HipercowError, match="signature does not verify") as e:
                read()
            assert "not written by this user's hipercow-magic" in str(e.value)
    assert not ran.exists()
    store.write_bytes(path, good)
    assert task.result() == 42


def test_swapped_inputs_are_refused_on_the_node(root, tmp_path):
    x = 5  # noqa: F841 (captured)
    task = hc.task_create_expr("x * 2", driver=False)
    ran = tmp_path / "ran"
    store.write_bytes(root.task_file(task.id, "locals.pkl"), pickle.dumps(RunsCode(str(ran))))
    hc.task_submit(task.id)
    assert task.wait(timeout=WAIT) is False
    assert task.status() == "failure"
    assert "is not signed" in hc.task_info(task.id).reason
    assert not ran.exists()


RACE = textwrap.dedent(
    """
    import json, sys
    from hipercow_magic.core.root import find_root
    from hipercow_magic.core.task import write_terminal
    root = find_root(sys.argv[1])
    task_id, status, n = sys.argv[2], sys.argv[3], int(sys.argv[4])
    result = {"ok": status == "success", "value": n, "error": RuntimeError(str(n))}
    sys.stdin.readline()
    won = write_terminal(root, task_id, status, reason=f"writer {n}",
                         result=None if status == "cancelled" else result)
    print(json.dumps(won))
    """
)
STATUSES = ("success", "failure", "cancelled")


def check_one_winner(root, task_id, statuses, won):
    """Exactly one writer won; its status, reason and result are the task's; nothing else."""
    assert won.count(True) == 1, won
    n = won.index(True)
    status = statuses[n]
    folder = root.task_dir(task_id)
    markers = sorted(f for f in os.listdir(folder) if f.startswith("status-"))
    assert markers == sorted(["status-final", f"status-{status}"])
    assert not [f for f in os.listdir(folder) if f.startswith(".")]  # no temporary files
    root.terminal_cache.clear()
    assert marker_status(root, task_id) == status
    assert read_marker(root, task_id, status)["reason"] == f"writer {n}"
    has_result = os.path.exists(root.task_file(task_id, "result.pkl"))
    assert has_result == (status != "cancelled")
    if status == "success":
        assert hc.task_result(task_id, root=root) == n
    elif status == "failure":
        assert str(hc.task_result(task_id, root=root)) == str(n)
    assert store.read_json(root.task_file(task_id, "times.json"))["finished"] is not None
    return status


def test_processes_racing_for_the_terminal_state_one_wins(tmp_path, monkeypatch):
    monkeypatch.setenv("HIPERCOW_KEY_FILE", str(tmp_path / "secret.key"))
    root, _ = init_root(str(tmp_path / "root"))
    env = source_environment()
    winners = set()
    for _ in range(30):
        task_id = new_id()
        os.makedirs(root.task_dir(task_id))
        store.write_json(root.task_file(task_id, "data.json"), {"id": task_id})
        statuses = [STATUSES[i % 3] for i in range(6)]
        procs = [
            subprocess.Popen(
                [sys.executable, "-c", RACE, root.path, task_id, s, str(n)],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
                env=env,
            )
            for n, s in enumerate(statuses)
        ]
        for p in procs:  # let them all start before any writes
            p.stdin.write("go\n")
            p.stdin.flush()
        outs = [p.communicate() for p in procs]
        assert all(p.returncode == 0 for p in procs), [o[1] for o in outs]
        won = [o[0].strip() == "true" for o in outs]
        winners.add(check_one_winner(root, task_id, statuses, won))
    assert winners  # (which status wins is up to the race)


def test_threads_racing_for_the_terminal_state_one_wins(tmp_path, monkeypatch):
    monkeypatch.setenv("HIPERCOW_KEY_FILE", str(tmp_path / "secret.key"))
    root, _ = init_root(str(tmp_path / "root"))
    for _ in range(50):
        task_id = new_id()
        os.makedirs(root.task_dir(task_id))
        store.write_json(root.task_file(task_id, "data.json"), {"id": task_id})
        statuses = [STATUSES[i % 3] for i in range(8)]
        won = [None] * len(statuses)
        barrier = threading.Barrier(len(statuses))

        def write(n, task_id=task_id, statuses=statuses, won=won, barrier=barrier):
            status = statuses[n]
            result = {"ok": status == "success", "value": n, "error": RuntimeError(str(n))}
            barrier.wait()
            won[n] = write_terminal(
                root,
                task_id,
                status,
                reason=f"writer {n}",
                result=None if status == "cancelled" else result,
            )

        threads = [threading.Thread(target=write, args=(n,)) for n in range(len(statuses))]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        check_one_winner(root, task_id, statuses, won)


@pytest.fixture
def disk_root(tmp_path, monkeypatch, capsys):
    """A root on a 4 MB tmpfs (on the local driver), and a file that fills most of it."""
    disk = tmp_path / "disk"
    disk.mkdir()
    proc = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", str(disk)], capture_output=True
    )
    if proc.returncode != 0:
        pytest.skip(f"can't mount a small tmpfs here: {proc.stderr.decode().strip()}")
    monkeypatch.chdir(disk)
    monkeypatch.setenv("HIPERCOW_KEY_FILE", str(tmp_path / "secret.key"))
    r = hc.hipercow_init(".", driver="local", idle_timeout=30)
    capsys.readouterr()
    try:
        yield r
    finally:
        stop_local_scheduler(r)
        monkeypatch.chdir(tmp_path)
        subprocess.run(["umount", "-l", str(disk)], check=True)


def fill(folder, leave: int) -> str:
    """Fill the filesystem at `folder` but `leave` bytes; returns the filler's path."""
    path = os.path.join(folder, "filler")
    st = os.statvfs(folder)
    with open(path, "wb") as f:
        f.write(b"\0" * max(0, st.f_bavail * st.f_frsize - leave))
    return path


def whole_tasks(root) -> list[str]:
    """Every task folder holds data.json and no temporary file; returns the ids."""
    ids = []
    tasks = os.path.join(root.hipercow, "tasks")
    for shard in os.listdir(tasks):
        for rest in os.listdir(os.path.join(tasks, shard)):
            files = os.listdir(os.path.join(tasks, shard, rest))
            assert "data.json" in files, files
            assert not [f for f in files if f.startswith(".")], files
            ids.append(shard + rest)
    return ids


def test_a_full_disk_while_creating_is_a_clear_error_and_leaves_no_half_task(disk_root):
    filler = fill(disk_root.path, 600_000)
    blob = os.urandom(150_000)  # noqa: F841 (captured)
    made = []
    with pytest.raises(HipercowError) as e:
        for _ in range(20):
            made.append(hc.task_create_expr("len(blob)", driver=False))
    assert "No space left on device" in str(e.value)
    assert "Free some space" in str(e.value)
    assert 1 <= len(made) < 20
    assert sorted(whole_tasks(disk_root)) == sorted(t.id for t in made)
    os.unlink(filler)  # space is back: the root works
    task = hc.task_create_expr("len(blob)")
    hc.task_submit([t.id for t in made])
    assert task.wait(timeout=WAIT) and task.result() == 150_000
    for t in made:
        assert t.wait(timeout=WAIT) and t.result() == 150_000


def test_a_result_that_does_not_fit_fails_the_task_saying_so(disk_root):
    task = hc.task_create_expr("b'x' * 3_000_000", namespace={}, driver=False)
    fill(disk_root.path, 400_000)
    hc.task_submit(task.id)
    assert task.wait(timeout=WAIT) is False
    info = hc.task_info(task.id)
    assert info.status == "failure"
    assert "could not be saved" in info.reason and "No space left" in info.reason
    log = task.log()
    assert "status: failure" in log and "status: success" not in log
    assert not [f for f in os.listdir(disk_root.task_dir(task.id)) if f.startswith(".")]


def test_a_path_too_long_for_task_files_is_a_clear_error(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("HIPERCOW_KEY_FILE", str(tmp_path / "secret.key"))
    base = str(tmp_path)
    parts = []
    while len(base) + sum(len(p) + 1 for p in parts) < 3800:
        parts.append("d" * 200)
    path = os.path.join(base, *parts)
    path += "/" + "e" * (4040 - len(path) - 1)  # room for a task folder, not its files
    assert len(path) == 4040
    os.makedirs(path)
    monkeypatch.chdir(path)
    root = hc.hipercow_init(".")
    capsys.readouterr()
    with pytest.raises(HipercowError, match="File name too long") as e:
        hc.task_create_expr("1", namespace={}, driver=False)
    assert "Use a root with a shorter path" in str(e.value)
    assert "/hipercow/tasks/" in str(e.value)  # it failed writing the task, not before
    assert whole_tasks(root) == []  # the folder it made is gone


def test_a_claim_left_by_a_writer_that_died_is_completed_by_the_next(tmp_path, monkeypatch):
    import json
    import socket
    import time

    monkeypatch.setenv("HIPERCOW_KEY_FILE", str(tmp_path / "secret.key"))
    root, _ = init_root(str(tmp_path / "root"))
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    for claimer in (
        {"pid": dead.pid, "host": socket.gethostname(), "time": time.time()},  # died here
        {"pid": 1, "host": "elsewhere", "time": 1.0e9},  # another host, long ago
    ):
        task_id = new_id()
        os.makedirs(root.task_dir(task_id))
        store.write_json(root.task_file(task_id, "data.json"), {"id": task_id})
        claim = {**claimer, "status": "failure", "reason": "killed"}
        store.write_text(root.task_file(task_id, "status-final"), json.dumps(claim))
        assert marker_status(root, task_id) == "created"  # claimed, marker never written
        assert write_terminal(root, task_id, "cancelled", reason="late") is False
        assert marker_status(root, task_id) == "failure"
        assert read_marker(root, task_id, "failure")["reason"] == "killed"
        assert not os.path.exists(root.task_file(task_id, "status-cancelled"))


def test_a_full_disk_while_submitting_keeps_tasks_created_until_space_is_back(disk_root):
    tasks = [hc.task_create_expr(f"{n} * 2", namespace={}, driver=False) for n in range(3)]
    filler = fill(disk_root.path, 0)
    with pytest.raises(HipercowError, match="No space left on device") as e:
        hc.task_submit(tasks)
    assert "kept with status 'created'" in str(e.value)
    assert [t.status() for t in tasks] == ["created"] * 3
    os.unlink(filler)
    hc.task_submit(tasks)
    for n, t in enumerate(tasks):
        assert t.wait(timeout=WAIT) and t.result() == n * 2
    assert sorted(whole_tasks(disk_root)) == sorted(t.id for t in tasks)
