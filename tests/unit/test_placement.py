"""The local scheduler's placement policy on its own: no processes, no files."""

from hipercow_magic.drivers.local.cluster import EXAMPLE
from hipercow_magic.drivers.local.placement import Node, VirtualCluster, memory, order

CPUS = [0, 1, 2, 3]


def entry(task_id, cores=1, **resources):
    return {"id": task_id, "batch": "b", "cores": cores, **resources}


def queue(*entries):
    return {("b", i): e for i, e in enumerate(entries)}


def one_node(cores=2, memory=4):
    return VirtualCluster(
        {
            "nodes": [{"name": "n1", "cores": cores, "memory": memory}],
            "queues": [{"name": "q", "nodes": ["n1"], "default": True}],
        },
        CPUS,
    )


def placed(placement):
    return {e["id"]: e["node"] for _, e, _ in placement.launches}


def test_node_accounts_for_cores_memory_and_whole_node_tasks():
    node = Node({"name": "n", "cores": 4, "memory": 8}, CPUS)
    assert node.fits(4, 8, whole=False) and not node.fits(5, 0, whole=False)
    slots = node.take("a", 3, 6, whole=False)
    assert slots == [0, 1, 2] and node.free_slots == [3] and node.free_memory == 2
    assert node.fits(1, 2, whole=False)
    assert not node.fits(1, 3, whole=False)  # not enough memory left
    assert not node.fits(1, 0, whole=True)  # not empty
    node.release("a", slots, 6)
    assert node.free_slots == [0, 1, 2, 3] and node.free_memory == 8
    whole = node.take("b", 0, 0, whole=True)
    assert whole == [0, 1, 2, 3] and not node.fits(0, 0, whole=False)
    node.release("b", whole, 0)
    assert not node.whole and node.fits(1, 0, whole=False)


def test_a_node_without_memory_limit_takes_any_memory():
    node = Node({"name": "n", "cores": 1}, CPUS)
    assert node.fits(1, 1000, whole=False) and node.fits(0, 1000, whole=True)


def test_physical_cpus_pin_only_when_the_machine_has_enough():
    node = Node({"name": "n", "cores": 8, "memory": 0}, CPUS)
    assert node.physical_cpus([1, 2]) == {1, 2}
    assert node.physical_cpus([0, 4]) is None  # both map to CPU 0
    assert node.physical_cpus(list(range(5))) is None
    assert Node({"name": "n", "cores": 2}, []).physical_cpus([0]) is None


def test_order_puts_normal_priority_first_then_first_come():
    queued = queue(entry("low1", priority="low"), entry("n1"), entry("low2", priority="low"))
    queued[("a", 9)] = entry("earlier")  # an earlier submission sorts first
    ids = [queued[k]["id"] for k in order(queued)]
    assert ids == ["earlier", "n1", "low1", "low2"]


def test_memory_per_node_or_per_process():
    assert memory(entry("a", memory_per_node=3), 2) == 3
    assert memory(entry("a", memory_per_process=2), 3) == 6
    assert memory(entry("a", memory_per_process=2), 0) == 2  # a whole-node task: one process
    assert memory(entry("a"), 4) == 0


def test_place_fills_nodes_and_leaves_the_rest_waiting_for_resources():
    cluster = one_node(cores=2)
    result = cluster.place(queue(entry("a"), entry("b"), entry("c")), now=0)
    assert placed(result) == {"a": "n1", "b": "n1"}
    assert result.reasons == {}  # the cluster is full: the rest is not even looked at
    cluster = one_node(cores=2)
    result = cluster.place(queue(entry("big", cores=3), entry("small")), now=0)
    assert placed(result) == {"small": "n1"}
    assert result.reasons == {"big": "Resources"}


def test_place_gives_slots_memory_and_whole_to_the_entry():
    cluster = one_node(cores=4, memory=8)
    result = cluster.place(queue(entry("a", cores=2, memory_per_process=3)), now=0)
    (key, placed_entry, node), *_ = result.launches
    assert key == ("b", 0) and node is cluster.nodes["n1"]
    assert placed_entry["slots"] == [0, 1] and placed_entry["memory"] == 6
    assert placed_entry["whole"] is False
    assert node.free_slots == [2, 3] and node.free_memory == 2


def test_memory_is_a_constraint():
    cluster = one_node(cores=4, memory=4)
    result = cluster.place(
        queue(entry("a", memory_per_node=3), entry("b", memory_per_node=2), entry("c")), now=0
    )
    assert placed(result) == {"a": "n1", "c": "n1"}
    assert result.reasons == {"b": "Resources"}


def test_held_tasks_wait_with_reason_begin_time():
    cluster = one_node()
    result = cluster.place(queue(entry("later", hold_until=100), entry("now")), now=50)
    assert placed(result) == {"now": "n1"}
    assert result.reasons == {"later": "BeginTime"}
    assert placed(one_node().place(queue(entry("later", hold_until=100)), now=100)) == {
        "later": "n1"
    }


def test_a_low_priority_task_passed_over_waits_for_priority():
    cluster = one_node(cores=2)
    result = cluster.place(
        queue(entry("low", cores=2, priority="low"), entry("normal", cores=1)), now=0
    )
    assert placed(result) == {"normal": "n1"}
    assert result.reasons == {"low": "Priority"}


def test_whole_node_tasks_reserve_their_node_from_smaller_ones_behind():
    cluster = one_node(cores=2)
    cluster.nodes["n1"].take("running", 1, 0, whole=False)
    result = cluster.place(queue(entry("whole", cores="Inf"), entry("small")), now=0)
    assert placed(result) == {}
    assert result.reasons == {"whole": "Resources", "small": "Resources"}
    cluster.nodes["n1"].release("running", [0], 0)
    result = cluster.place(queue(entry("whole", cores="Inf"), entry("small")), now=0)
    assert placed(result) == {"whole": "n1"}
    (_, whole, _), *_ = result.launches
    assert whole["whole"] is True and whole["slots"] == [0, 1]


def test_exclusive_takes_an_empty_node_but_only_its_cores():
    cluster = one_node(cores=2)
    result = cluster.place(queue(entry("excl", exclusive=True), entry("other")), now=0)
    assert placed(result) == {"excl": "n1"}
    (_, excl, _), *_ = result.launches
    assert excl["whole"] is True


def test_queues_and_requested_nodes_choose_candidates():
    cluster = VirtualCluster(EXAMPLE, CPUS)
    assert cluster.default_queue == "alltasks"
    assert cluster.candidates(entry("a")) == ["node-1", "node-2", "gpu-3", "gpu-4"]
    assert cluster.candidates(entry("a", queue="fast")) == ["gpu-3", "gpu-4"]
    assert cluster.candidates(entry("a", requested_nodes=["node-2"])) == ["node-2"]
    assert cluster.candidates(entry("a", queue="fast", requested_nodes=["node-1"])) == []
    result = cluster.place(queue(*[entry(f"f{i}", cores=4, queue="fast") for i in range(3)]), now=0)
    assert placed(result) == {"f0": "gpu-3", "f1": "gpu-4"}
    assert result.reasons == {"f2": "Resources"}
