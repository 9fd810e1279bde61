"""The local scheduler under bad files and faults, with real processes: one bad queue file,
claim, task folder or foreign file never stops the rest of the root; the wake-up socket can't
be taken; a scheduler that can't start is reported."""

import glob
import hashlib
import json
import os
import shutil
import signal
import socket

import psutil
import pytest
from processes import stop_local_scheduler, wait_until

import hipercow_magic as hc
from hipercow_magic.core import store
from hipercow_magic.drivers.local import paths

WAIT = 60
BLOCK = "import time\ntime.sleep(BLOCK)"


@pytest.fixture
def solo_root(tmp_path, monkeypatch, capsys):
    """A root whose virtual cluster is one node with one core: tasks run one at a time."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("HIPERCOW_KEY_FILE", str(tmp_path.parent / f"{tmp_path.name}.key"))
    root = hc.hipercow_init(
        ".", driver="local", idle_timeout=30, nodes=[{"name": "solo", "cores": 1, "memory": 2}]
    )
    capsys.readouterr()
    yield root
    stop_local_scheduler(root)


def scheduler_log(root) -> str:
    return store.read_text_or(paths.scheduler_log(root)) or ""


def kill_scheduler(root) -> None:
    """kill -9 the root's scheduler alone (its tasks' processes carry on)."""
    pid = wait_until(lambda: (store.read_json_or(paths.scheduler_info(root)) or {}).get("pid"))
    proc = psutil.Process(pid)
    os.kill(pid, signal.SIGKILL)
    proc.wait(10)


def batch_of(root, task_id: str) -> str:
    """The queue file naming a task."""
    for path in glob.glob(os.path.join(paths.queue_dir(root), "*.json")):
        if task_id in open(path).read():
            return path
    raise AssertionError(f"no queue file names {task_id}")


def test_an_empty_claim_left_by_a_dead_scheduler_is_run_again(solo_root):
    root = solo_root
    blocker = hc.task_create_expr(BLOCK, namespace={"BLOCK": 1.5})
    assert blocker.wait(for_start=True, timeout=WAIT)
    cut = hc.task_create_expr("'cut'", namespace={})
    kill_scheduler(root)
    # a scheduler killed between creating the claim and writing it
    open(root.task_file(cut.id, "status-running"), "w").close()
    after = hc.task_create_expr("'after'", namespace={})  # starts a scheduler
    assert blocker.wait(timeout=WAIT) and after.wait(timeout=WAIT) and cut.wait(timeout=WAIT)
    assert cut.result() == "cut" and after.result() == "after"
    assert f"task {cut.id}: its start was cut short before it ran" in scheduler_log(root)


def test_an_empty_claim_met_by_a_live_scheduler_does_not_block_the_task(solo_root):
    root = solo_root
    blocker = hc.task_create_expr(BLOCK, namespace={"BLOCK": 1.0})
    assert blocker.wait(for_start=True, timeout=WAIT)
    cut = hc.task_create_expr("'cut'", namespace={})
    open(root.task_file(cut.id, "status-running"), "w").close()
    assert blocker.wait(timeout=WAIT) and cut.wait(timeout=WAIT)
    assert cut.result() == "cut"


@pytest.mark.parametrize(
    "content",
    [
        lambda ids: b'{"resources": {"cores": 1}, "ids": ["' + ids[0].encode() + b'", ',
        lambda ids: json.dumps({"resources": {"cores": "many"}, "ids": ids}).encode(),
        lambda ids: json.dumps({"resources": {"cores": 1}, "ids": ids + [3]}).encode(),
    ],
    ids=["truncated", "bad-resources", "bad-id"],
)
def test_a_malformed_queue_file_fails_its_tasks_and_the_rest_run(solo_root, content):
    root = solo_root
    blocker = hc.task_create_expr(BLOCK, namespace={"BLOCK": 1.0})
    assert blocker.wait(for_start=True, timeout=WAIT)
    bad = hc.task_create_expr("'bad'", namespace={})
    kill_scheduler(root)
    path = batch_of(root, bad.id)
    with open(path, "wb") as f:
        f.write(content([bad.id]))
    good = hc.task_create_expr("'good'", namespace={})
    assert good.wait(timeout=WAIT) and blocker.wait(timeout=WAIT)
    assert bad.wait(timeout=WAIT) is False
    info = hc.task_info(bad)
    assert info.status == "failure"
    assert "is malformed" in info.reason and os.path.basename(path) in info.reason
    assert "is malformed" in str(info)
    assert not os.path.exists(path)  # set aside, so no scheduler reads it again
    assert os.path.exists(os.path.join(paths.queue_dir(root), ".refused-" + os.path.basename(path)))
    assert good.result() == "good"


def test_a_task_folder_deleted_while_queued_is_dropped_and_the_rest_run(solo_root):
    root = solo_root
    blocker = hc.task_create_expr(BLOCK, namespace={"BLOCK": 1.0})
    assert blocker.wait(for_start=True, timeout=WAIT)
    gone = hc.task_create_expr("'gone'", namespace={})
    later = hc.task_create_expr("'later'", namespace={})
    shutil.rmtree(root.task_dir(gone.id))
    assert blocker.wait(timeout=WAIT) and later.wait(timeout=WAIT)
    wait_until(lambda: f"task {gone.id} no longer exists" in scheduler_log(root))
    with pytest.raises(hc.HipercowError, match="does not exist"):
        hc.task_info(gone.id)


def test_a_task_folder_deleted_while_running_is_dropped_and_the_rest_run(solo_root):
    root = solo_root
    gone = hc.task_create_expr(BLOCK, namespace={"BLOCK": 1.0})
    later = hc.task_create_expr("'later'", namespace={})
    assert gone.wait(for_start=True, timeout=WAIT)
    shutil.rmtree(root.task_dir(gone.id))
    assert later.wait(timeout=WAIT)
    assert later.result() == "later"
    wait_until(lambda: f"task {gone.id} no longer exists" in scheduler_log(root))
    again = hc.task_create_expr("'again'", namespace={})
    assert again.wait(timeout=WAIT)


def test_queue_files_and_tasks_of_another_user_are_not_run(solo_root):
    root = solo_root
    other = os.geteuid() + 4242
    blocker = hc.task_create_expr(BLOCK, namespace={"BLOCK": 1.0})
    assert blocker.wait(for_start=True, timeout=WAIT)
    foreign_batch = hc.task_create_expr("'foreign batch'", namespace={})
    foreign_task = hc.task_create_expr("'foreign task'", namespace={})
    kill_scheduler(root)
    batch = batch_of(root, foreign_batch.id)
    os.chown(batch, other, -1)
    os.chown(root.task_file(foreign_task.id, "data.json"), other, -1)
    mine = hc.task_create_expr("'mine'", namespace={})
    assert mine.wait(timeout=WAIT) and blocker.wait(timeout=WAIT)
    log = wait_until(
        lambda: (
            (text := scheduler_log(root))
            and f"task {foreign_task.id} belongs to uid {other}" in text
            and text
        )
    )
    assert f"{os.path.basename(batch)} belongs to uid {other}" in log
    # neither is run; the other user's queue file is left as it is; my task it names is
    # failed saying why; the other user's task is left alone
    assert os.path.exists(batch)
    for task in (foreign_batch, foreign_task):
        assert not os.path.exists(root.task_file(task.id, "log"))
    info = hc.task_info(foreign_batch)
    assert info.status == "failure" and f"belongs to uid {other}" in info.reason
    assert hc.task_status(foreign_task) == "submitted"
    scheduler = wait_until(lambda: hc.task_info(foreign_task).scheduler.get("reason"))
    assert f"belongs to uid {other}, not to this scheduler's user" in scheduler


def test_a_taken_wake_up_address_does_not_stop_the_scheduler(root):
    stop_local_scheduler(root)
    old = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    old.bind("\0hipercow-magic-" + hashlib.sha1(root.path.encode()).hexdigest()[:20])
    squatter = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    squatter.bind(paths.wake_address(root))
    try:
        task = hc.task_create_expr("1 + 1", namespace={})
        assert task.wait(timeout=WAIT) and task.result() == 2
    finally:
        old.close()
        squatter.close()


def test_a_wake_up_address_that_cannot_be_bound_means_polling(root):
    os.makedirs(os.path.join(paths.wake_address(root), "taken"))
    task = hc.task_create_expr("1 + 1", namespace={})
    assert task.wait(timeout=WAIT) and task.result() == 2
    assert "polling the queue instead" in scheduler_log(root)
    assert hc.task_create_expr("2 + 2", namespace={}).wait(timeout=WAIT)


def test_a_root_too_deep_for_a_socket_path_is_polled(tmp_path, monkeypatch, capsys):
    deep = tmp_path / ("d" * 60) / ("e" * 60)
    deep.mkdir(parents=True)
    monkeypatch.chdir(deep)
    monkeypatch.setenv("HIPERCOW_KEY_FILE", str(tmp_path / "key"))
    root = hc.hipercow_init(".", driver="local", idle_timeout=30)
    capsys.readouterr()
    try:
        assert paths.wake_address(root) is None
        task = hc.task_create_expr("1 + 1", namespace={})
        assert task.wait(timeout=WAIT) and task.result() == 2
        assert "too long for a wake-up socket" in scheduler_log(root)
    finally:
        stop_local_scheduler(root)


def test_a_scheduler_that_keeps_failing_to_start_is_reported(root):
    stop_local_scheduler(root)
    [config] = glob.glob(os.path.join(root.hipercow, "config", "*", "local.json"))
    good = store.read_json(config)
    store.write_json(config, {**good, "idle_timeout": "soon"})  # the scheduler can't read it
    task = hc.task_create_expr("1 + 1", namespace={})
    with pytest.raises(hc.HipercowError, match=r"failed to start [3-9] times in a row") as e:
        task.wait(timeout=WAIT)
    assert paths.scheduler_log(root) in str(e.value)
    assert "could not convert string to float: 'soon'" in str(e.value)
    with pytest.raises(hc.HipercowError, match="failed to start"):
        hc.task_info(task)
    store.write_json(config, good)
    assert task.wait(timeout=WAIT) and task.result() == 2
    assert not os.path.exists(paths.start_failures(root))
