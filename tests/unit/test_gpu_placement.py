"""GPUs on the local driver's virtual cluster: nodes declaring them, placement giving each
task its own devices, the words for a task waiting for them, and requests refused.
"""

import subprocess

import pytest

from hipercow_magic.core.errors import HipercowError
from hipercow_magic.core.resources import hipercow_resources, validate_resources
from hipercow_magic.drivers.local import cluster as local_cluster
from hipercow_magic.drivers.local.cluster import EXAMPLE, cluster_info, cluster_spec
from hipercow_magic.drivers.local.intake import check_resources
from hipercow_magic.drivers.local.placement import Node, VirtualCluster
from hipercow_magic.drivers.local.state import pending_state
from hipercow_magic.drivers.local.waiting import never_fits, resources_words

CPUS = [0, 1, 2, 3]


def entry(task_id, cores=1, **resources):
    return {"id": task_id, "batch": "b", "cores": cores, **resources}


def queue(*entries):
    return {("b", i): e for i, e in enumerate(entries)}


def launched(placement):
    return {e["id"]: (e["node"], e["gpu_devices"]) for _, e, _ in placement.launches}


def test_the_example_cluster_has_two_gpus_on_gpu_3_and_gpu_4():
    info = cluster_info(cluster_spec("example"))
    assert {n.name: n.gpus for n in info.nodes} == {
        "node-1": 0,
        "node-2": 0,
        "gpu-3": 2,
        "gpu-4": 2,
    }
    assert info.max_gpus == 2 and info.gpu_types == []
    text = str(info)
    assert "  node    cores  memory  gpus\n" in text
    assert "  gpu-3       4    4 GB     2\n" in text


def test_two_gpu_tasks_take_both_gpu_nodes_and_a_third_waits_with_words():
    cluster = VirtualCluster(EXAMPLE, CPUS)
    queued = queue(entry("a", gpus=2), entry("b", gpus=2), entry("c", gpus=2))
    placement = cluster.place(queued, 0)
    assert launched(placement) == {"a": ("gpu-3", [0, 1]), "b": ("gpu-4", [0, 1])}
    assert placement.reasons == {"c": "Resources"}
    words = resources_words(cluster, queued[("b", 2)])
    assert words == "waiting for 2 free GPUs on gpu-3, gpu-4: 4 of 4 in use"
    for key, _, _ in placement.launches:
        del queued[key]
    state = pending_state(cluster, queued, placement.reasons, set(), 0)
    assert state["c"]["reason_words"] == words
    cluster.nodes["gpu-4"].release("b", [0], 0)  # b ends: c goes where b was
    assert launched(cluster.place(queued, 0)) == {"c": ("gpu-4", [0, 1])}


def test_one_gpu_tasks_get_distinct_devices_on_one_node():
    cluster = VirtualCluster(EXAMPLE, CPUS)
    queued = queue(entry("a", gpus=1), entry("b", gpus=1, requested_nodes=["gpu-3"]))
    placement = cluster.place(queued, 0)
    assert launched(placement) == {"a": ("gpu-3", [0]), "b": ("gpu-3", [1])}
    assert cluster.nodes["gpu-3"].free_gpus == []


def test_a_task_without_gpus_sees_none_on_a_gpu_node_and_is_left_alone_elsewhere():
    cluster = VirtualCluster(EXAMPLE, CPUS)
    queued = queue(entry("a", requested_nodes=["gpu-3"]), entry("b"))
    assert launched(cluster.place(queued, 0)) == {"a": ("gpu-3", []), "b": ("node-1", None)}


def test_gpus_come_back_when_a_task_ends_and_cores_still_count():
    node = Node({"name": "g", "cores": 2, "memory": 0, "gpus": 2}, CPUS)
    slots = node.take("a", 2, 0, whole=False, gpus=1)
    assert node.gpu_devices["a"] == [0] and node.free_gpus == [1]
    assert not node.fits(1, 0, whole=False, gpus=1)  # GPUs free, cores not
    node.release("a", slots, 0)
    assert node.free_gpus == [0, 1] and "a" not in node.gpu_devices
    node.take("b", 1, 0, whole=False, devices=[1])  # a task adopted after a restart
    assert node.free_gpus == [0] and node.visible_gpus("b") == [1]


def test_a_whole_node_task_with_gpus_reserves_a_gpu_node():
    cluster = VirtualCluster(EXAMPLE, CPUS)
    busy = queue(entry("a", gpus=1), entry("b", gpus=2, requested_nodes=["gpu-4"]))
    cluster.place(busy, 0)
    queued = queue(entry("w", cores="Inf", gpus=2), entry("small", gpus=1))
    placement = cluster.place(queued, 0)
    assert placement.reasons == {"w": "Resources", "small": "Resources"}
    assert placement.reserved == {"gpu-3"}


def test_gpu_type_must_match_the_node():
    spec = cluster_spec(
        nodes=[
            {"name": "cpu", "cores": 2, "memory": 2},
            {"name": "big", "cores": 2, "memory": 2, "gpus": 1, "gpu_type": "a100"},
            {"name": "small", "cores": 2, "memory": 2, "gpus": 2, "gpu_type": "t4"},
        ]
    )
    cluster = VirtualCluster(spec, CPUS)
    queued = queue(entry("a", gpus=1, gpu_type="t4"), entry("b", gpus=1, gpu_type="a100"))
    assert launched(cluster.place(queued, 0)) == {"a": ("small", [0]), "b": ("big", [0])}
    info = cluster_info(spec)
    assert info.gpu_types == ["a100", "t4"]
    assert validate_resources(hipercow_resources(gpus=1, gpu_type="A100"), info).gpu_type == "a100"
    with pytest.raises(HipercowError, match="type 'h100'"):
        validate_resources(hipercow_resources(gpus=1, gpu_type="h100"), info)
    with pytest.raises(HipercowError, match="type 'a100'"):
        validate_resources(hipercow_resources(gpus=2, gpu_type="a100"), info)


def test_requests_no_node_can_run_are_refused_in_words():
    cluster = VirtualCluster(EXAMPLE, CPUS)
    assert never_fits(cluster, entry("a", gpus=2)) is None
    assert (
        never_fits(cluster, entry("a", gpus=1, queue="bigmem"))
        == "it asks for 1 GPU and the nodes of queue bigmem have none"
    )
    assert (
        never_fits(cluster, entry("a", gpus=3, queue="fast"))
        == "it asks for 3 GPUs and the nodes of queue fast have 2 at most"
    )
    assert (
        never_fits(cluster, entry("a", gpus=1, gpu_type="a100"))
        == "it asks for GPUs of type 'a100' and the nodes of queue alltasks have GPUs of "
        "no named type"
    )
    info = cluster_info(EXAMPLE)
    with pytest.raises(HipercowError, match="(?s)3 GPUs are too many.*The most any node has is 2"):
        validate_resources(hipercow_resources(gpus=3), info)
    with pytest.raises(HipercowError, match="(?s)type 'a100'.*GPU types here: none named"):
        validate_resources(hipercow_resources(gpus=1, gpu_type="a100"), info)


@pytest.mark.parametrize(
    ("node", "message"),
    [
        ({"gpus": -1}, "'gpus' -1"),
        ({"gpus": 1.5}, "'gpus' 1.5"),
        ({"gpus": True}, "'gpus' True"),
        ({"gpu_type": "a100"}, "give it 'gpus' too"),
        ({"gpus": 1, "gpu_type": ""}, "'gpu_type' ''"),
    ],
)
def test_a_custom_node_with_bad_gpus_is_refused(node, message):
    with pytest.raises(HipercowError, match=message):
        cluster_spec(nodes=[{"name": "n", "cores": 1, "memory": 1, **node}])


def test_queue_files_with_bad_gpus_are_refused():
    check_resources({"cores": 1, "gpus": 2, "gpu_type": "a100"})
    for bad in ({"gpus": -1}, {"gpus": "2"}, {"gpus": True}, {"gpu_type": 3}):
        with pytest.raises(ValueError):
            check_resources({"cores": 1, **bad})


def test_the_machine_node_takes_the_gpus_nvidia_smi_lists(monkeypatch):
    listing = "GPU 0: NVIDIA A100 (UUID: GPU-1)\nGPU 1: NVIDIA A100 (UUID: GPU-2)\n"

    def fake_run(args, **kwargs):
        assert args == ["nvidia-smi", "-L"] and kwargs["timeout"] > 0
        return subprocess.CompletedProcess(args, 0, stdout=listing, stderr="")

    monkeypatch.setattr(local_cluster.subprocess, "run", fake_run)
    node = cluster_spec()["nodes"][0]
    assert node["gpus"] == 2 and "gpu_type" not in node


@pytest.mark.parametrize(
    "outcome",
    [
        FileNotFoundError("nvidia-smi"),
        subprocess.TimeoutExpired("nvidia-smi", 5),
        subprocess.CompletedProcess([], 9, stdout="", stderr="NVIDIA-SMI has failed"),
    ],
)
def test_the_machine_node_has_no_gpus_when_nvidia_smi_is_absent_or_fails(monkeypatch, outcome):
    def fake_run(args, **kwargs):
        if isinstance(outcome, Exception):
            raise outcome
        return outcome

    monkeypatch.setattr(local_cluster.subprocess, "run", fake_run)
    assert local_cluster.machine_gpus() == 0
    assert "gpus" not in cluster_spec()["nodes"][0]
    assert cluster_info(cluster_spec()).max_gpus == 0
