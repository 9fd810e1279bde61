"""The local scheduler's queue keeps its order between placement passes: tasks start in the
same order as a plain sort gives, while entries come and go; holds are found without a pass
over every entry.
"""

from hipercow_magic.drivers.local.placement import Queue, VirtualCluster, order


def entry(task_id, **resources):
    return {"id": task_id, "batch": "b", "cores": 1, **resources}


def cluster(cores=2):
    return VirtualCluster(
        {
            "nodes": [{"name": "n1", "cores": cores, "memory": 0}],
            "queues": [{"name": "q", "nodes": ["n1"], "default": True}],
        },
        [0, 1],
    )


def test_the_queue_gives_the_order_a_plain_sort_gives_as_entries_come_and_go():
    queued, plain = Queue(), {}
    for i in range(6):
        for q in (queued, plain):
            q[("b", i)] = entry(f"t{i}", priority="low" if i % 3 == 0 else None)
    assert list(order(queued)) == list(order(plain)) != []
    for key in [("b", 1), ("b", 0), ("b", 4)]:  # the first ones, and one in the middle
        del queued[key], plain[key]
        assert list(order(queued)) == list(order(plain))
    for q in (queued, plain):
        q[("a", 0)] = entry("earlier")  # an earlier submission, added late, sorts first
        q[("c", 0)] = entry("late-low", priority="low")
    assert [queued[k]["id"] for k in order(queued)] == [plain[k]["id"] for k in order(plain)]
    assert [queued[k]["id"] for k in order(queued)][:2] == ["earlier", "t2"]


def test_tasks_start_first_come_first_served_pass_after_pass():
    vc, queued = cluster(cores=2), Queue()
    for i in range(7):
        queued[("b", i)] = entry(f"t{i}")
    started = []
    while queued:
        placement = vc.place(queued, now=0)
        assert len(placement.launches) == 2 or len(queued) < 2
        for key, placed, node in placement.launches:
            started.append(placed["id"])
            del queued[key]
            node.release(placed["id"], placed["slots"], placed["memory"])
    assert started == [f"t{i}" for i in range(7)]


def test_holds_are_those_of_waiting_entries():
    queued = Queue()
    queued[("b", 0)] = entry("free")
    queued[("b", 1)] = entry("held", hold_until=100.0)
    queued[("b", 2)] = entry("later", hold_until=200.0)
    assert sorted(queued.holds()) == [100.0, 200.0]
    del queued[("b", 1)]
    assert queued.holds() == [200.0]
    placement = cluster().place(queued, now=150.0)
    assert [p["id"] for _, p, _ in placement.launches] == ["free"]
    assert placement.reasons == {"later": "BeginTime"}
