"""Task dependencies without task processes: which parents a submission waits for, the
reasons a task can never run (down a chain), the status lookup's sweep, what a creation
refuses, and what the local driver's queue and placement make of `after`.
"""

from __future__ import annotations

import json
import os

import pytest

import hipercow_magic as hc
from hipercow_magic.core import store
from hipercow_magic.core.task import marker_status, read_marker, write_terminal
from hipercow_magic.drivers.base import upstream_reason
from hipercow_magic.drivers.local import intake, paths
from hipercow_magic.drivers.local.placement import Queue, VirtualCluster
from hipercow_magic.engine.dependencies import check_parents, submission_groups
from hipercow_magic.engine.statuses import task_statuses


@pytest.fixture
def local_root(tmp_path, monkeypatch, capsys):
    """A root configured for the local driver; no task is ever handed to it here."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("HIPERCOW_KEY_FILE", str(tmp_path.parent / f"{tmp_path.name}.key"))
    root = hc.hipercow_init(".", driver="local")
    capsys.readouterr()
    return root


def created(depends_on=None) -> str:
    return hc.task_create_expr("1", namespace={}, driver=False, depends_on=depends_on).id


def submitted(root, task_id: str, after=None) -> str:
    """Mark a task submitted to the local driver (by hand: no scheduler is involved)."""
    marker = {"driver": "local", "time": 0, **({"after": after} if after else {})}
    store.write_json(root.task_file(task_id, "status-submitted"), marker)
    return task_id


def depending(root, task_id: str, parents: list[str]) -> str:
    """Give a created task parents not yet submitted (creation refuses them; a submission
    of the parents with it accepts them).
    """
    path = root.task_file(task_id, "data.json")
    store.write_json(path, {**store.read_json(path), "depends_on": parents})
    return task_id


def test_reasons_name_the_task_that_failed_down_a_chain(local_root):
    a = submitted(local_root, created())
    b = submitted(local_root, created([a]), after=[a])
    c = submitted(local_root, created([b]), after=[b])
    assert upstream_reason(local_root, [b]) is None  # a may still succeed
    write_terminal(local_root, a, "failure", reason="boom")
    assert upstream_reason(local_root, [a]) == f"upstream task {a[:8]} failed"
    assert upstream_reason(local_root, [b]) == f"upstream task {a[:8]} failed"  # via b's after
    write_terminal(local_root, b, "cancelled", reason=f"upstream task {a[:8]} failed")
    assert upstream_reason(local_root, [c]) == f"upstream task {a[:8]} failed"


def test_a_parent_cancelled_by_a_user_or_gone(local_root):
    a = submitted(local_root, created())
    write_terminal(local_root, a, "cancelled")
    assert upstream_reason(local_root, [a]) == f"upstream task {a[:8]} was cancelled"
    gone = "f" * 32
    assert upstream_reason(local_root, [gone]) == f"upstream task {gone[:8]} no longer exists"


def test_a_succeeded_or_running_parent_is_no_reason(local_root):
    a = submitted(local_root, created())
    write_terminal(local_root, a, "success")
    r = submitted(local_root, created())
    store.write_json(local_root.task_file(r, "status-running"), {"pid": 1, "time": 0})
    assert upstream_reason(local_root, [a, r]) is None


def test_status_lookup_ends_a_held_task_before_asking_its_driver(local_root):
    a = submitted(local_root, created())
    b = submitted(local_root, created([a]), after=[a])
    c = submitted(local_root, created([b]), after=[b])
    write_terminal(local_root, a, "failure", reason="boom")
    assert task_statuses(local_root, [c, b]) == ["cancelled", "cancelled"]
    for task_id in (b, c):
        assert read_marker(local_root, task_id, "cancelled")["reason"] == (
            f"upstream task {a[:8]} failed"
        )
    # no scheduler was started to answer: the driver was only told to drop them
    assert not os.path.exists(paths.scheduler_info(local_root))


def test_submission_groups_by_the_parents_still_waited_for(local_root):
    done = submitted(local_root, created())
    write_terminal(local_root, done, "success")
    running = submitted(local_root, created())
    first = created()
    free = created([done])
    after_running = created([running, done])
    after_first = depending(local_root, created(), [first])
    groups = submission_groups(local_root, [after_first, free, first, after_running])
    assert groups == [
        ([], [free, first]),  # a succeeded parent is no constraint
        ([running], [after_running]),
        ([first], [after_first]),  # submitted in the same call, after its parent
    ]


def test_submission_refuses_failed_and_unsubmitted_parents(local_root):
    a = submitted(local_root, created())
    child = created([a])
    write_terminal(local_root, a, "failure", reason="boom")
    with pytest.raises(hc.HipercowError, match=f"Task {a[:8]}, which task .* failed: boom"):
        submission_groups(local_root, [child])
    parent = created()
    orphan = depending(local_root, created(), [parent])
    with pytest.raises(hc.HipercowError, match="has not been submitted"):
        submission_groups(local_root, [orphan])
    assert submission_groups(local_root, [orphan, parent]) == [([], [parent]), ([parent], [orphan])]


def test_check_parents_refuses_and_keeps_order(local_root, tmp_path):
    a = submitted(local_root, created())
    b = submitted(local_root, created())
    assert check_parents(local_root, [(None, b), (local_root.path, a), (None, b)]) == [b, a]
    with pytest.raises(hc.HipercowError, match="belongs to the root at '/elsewhere'"):
        check_parents(local_root, [("/elsewhere", a)])
    with pytest.raises(hc.HipercowError, match="does not exist"):
        check_parents(local_root, [(None, "0" * 32)])
    with pytest.raises(hc.HipercowError, match="has not been submitted"):
        check_parents(local_root, [(None, created())])
    write_terminal(local_root, a, "cancelled")
    with pytest.raises(hc.HipercowError, match=f"Task {a[:8]}, .* was cancelled\nRetry it"):
        check_parents(local_root, [(None, a)])


def test_the_queue_refuses_a_malformed_after(local_root):
    paths.make_dirs(local_root)
    task, parent = "a" * 32, "b" * 32
    for after, why in ((parent, "'after' is str"), (["nope"], "'nope' in 'after'")):
        batch = {"resources": {"cores": 1}, "ids": [task], "after": after}
        store.write_json(paths.batch_file(local_root, "1"), batch)
        with pytest.raises(intake.Refused, match=why) as refused:
            intake.read_batch(local_root, "1")
        assert refused.value.ids == [task]  # the tasks it waits for are not told
    text = json.dumps({"ids": [task], "after": [parent]}).encode()
    assert intake.task_ids_in(text) == [task]


def test_placement_holds_waiting_tasks_and_keeps_their_turn():
    spec = {"nodes": [{"name": "n", "cores": 1}], "queues": [{"name": "q", "nodes": ["n"]}]}
    spec["queues"][0]["default"] = True
    cluster = VirtualCluster(spec, [])
    queue = Queue()
    queue[("1", 0)] = {"id": "held", "cores": 1, "after": ["p"]}
    queue[("1", 1)] = {"id": "free", "cores": 1}
    placed = cluster.place(queue, 0.0)
    assert [entry["id"] for _, entry, _ in placed.launches] == ["free"]
    assert placed.reasons == {"held": "Dependency"}
    cluster.nodes["n"].release("free", [0], 0)
    queue.pop(("1", 1))
    queue[("2", 0)] = {"id": "later", "cores": 1}
    queue[("1", 0)]["after"] = []  # its parents succeeded: it goes before later arrivals
    assert [e["id"] for _, e, _ in cluster.place(queue, 0.0).launches] == ["held"]


def test_a_task_ended_by_the_sweep_is_not_touched_again(local_root):
    a = submitted(local_root, created())
    b = submitted(local_root, created([a]), after=[a])
    write_terminal(local_root, a, "cancelled")
    assert task_statuses(local_root, [b]) == ["cancelled"]
    assert task_statuses(local_root, [b]) == ["cancelled"]
    assert marker_status(local_root, b) == "cancelled"
    assert not os.path.exists(local_root.task_file(b, "cancel-requested"))
