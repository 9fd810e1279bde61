"""GPUs on the local driver's example cluster (gpu-3 and gpu-4 have 2 each), with real task
processes: each task sees only its own GPUs in CUDA_VISIBLE_DEVICES, tasks wait for busy
GPUs with the reason in words, and requests no node can meet are refused at creation.
"""

import os

import psutil
import pytest
from processes import wait_until

import hipercow_magic as hc
from hipercow_magic.core import store
from hipercow_magic.core.errors import HipercowError
from hipercow_magic.core.root import find_root
from hipercow_magic.drivers.local import paths
from hipercow_magic.drivers.registry import load_driver

WAIT = 60
# Holds its node until the file 'go' appears in the root, then says what it saw.
HOLD = (
    "import os, time\n"
    "while not os.path.exists('go'):\n"
    "    time.sleep(0.05)\n"
    "(os.environ['HIPERCOW_NODE'], os.environ.get('CUDA_VISIBLE_DEVICES'))\n"
)


def _holding(**resources):
    return hc.task_create_expr(HOLD, resources=hc.hipercow_resources(**resources))


def _release(tasks):
    """Let the holding tasks end; what each saw (node, CUDA_VISIBLE_DEVICES)."""
    open("go", "w").close()
    ended = [hc.task_wait(t.id, timeout=WAIT) for t in tasks]
    assert ended == [True] * len(tasks)
    return [hc.task_result(t.id) for t in tasks]


def test_two_gpu_tasks_run_at_once_and_a_third_waits_for_their_gpus(example_root):
    first, second = _holding(gpus=2), _holding(gpus=2)
    assert first.wait(for_start=True, timeout=WAIT)
    assert second.wait(for_start=True, timeout=WAIT)
    third = _holding(gpus=2)
    expected = "waiting for 2 free GPUs on gpu-3, gpu-4: 4 of 4 in use"
    driver = load_driver(find_root(), "local")
    assert wait_until(lambda: driver.queue_details([third.id]).get(third.id), WAIT) == {
        "reason": "Resources",
        "reason_words": expected,
    }
    assert f"position 1 in the queue, {expected}" in str(hc.task_info(third.id))
    assert hc.task_status(third.id) == "submitted"
    results = _release([first, second, third])
    assert sorted(results[:2]) == [("gpu-3", "0,1"), ("gpu-4", "0,1")]
    assert results[2] in (("gpu-3", "0,1"), ("gpu-4", "0,1"))


def test_one_gpu_tasks_get_distinct_devices_on_one_node(example_root):
    tasks = [_holding(gpus=1, requested_nodes="gpu-3") for _ in range(2)]
    assert all(t.wait(for_start=True, timeout=WAIT) for t in tasks)
    results = _release(tasks)
    assert sorted(results) == [("gpu-3", "0"), ("gpu-3", "1")]


def test_a_task_without_gpus_sees_none_on_a_gpu_node_and_keeps_them_elsewhere(
    example_root, monkeypatch
):
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "5")  # what the scheduler starts with
    on_gpu_node = _holding(requested_nodes="gpu-3")
    on_cpu_node = _holding(requested_nodes="node-1")
    assert _release([on_gpu_node, on_cpu_node]) == [("gpu-3", ""), ("node-1", "5")]


@pytest.mark.parametrize(
    ("resources", "message"),
    [
        ({"gpus": 3}, "3 GPUs are too many for this cluster.\nThe most any node has is 2."),
        (
            {"gpus": 1, "gpu_type": "a100"},
            "No node of this cluster has 1 GPU of type 'a100'.\nGPU types here: none named.",
        ),
    ],
)
def test_gpus_no_node_has_are_refused_at_creation_with_nothing_written(
    example_root, resources, message
):
    with pytest.raises(HipercowError) as refused:
        hc.task_create_expr("1", resources=hc.hipercow_resources(**resources))
    assert message in str(refused.value)
    assert hc.task_list() == []
    assert not os.listdir(os.path.join("hipercow", "tasks"))


def test_gpus_outside_the_queue_asked_for_are_not_submitted(example_root):
    with pytest.raises(HipercowError) as refused:
        _holding(gpus=1, queue="bigmem")
    message = str(refused.value)
    assert "it asks for 1 GPU and the nodes of queue bigmem have none" in message
    assert "Nothing was submitted" in message
    assert [hc.task_status(t) for t in hc.task_list()] == ["created"]
    assert os.listdir(os.path.join("hipercow", "local", "queue")) == []


def test_hipercow_info_shows_the_gpus_of_each_node(example_root, ip, capsys):
    ip.run_line_magic("hipercow_info", "")
    out = capsys.readouterr().out
    assert "node    cores  memory  gpus  queues" in out
    assert "gpu-3   4      4 GB    2     alltasks, fast" in out
    assert "node-1  4      4 GB          alltasks, bigmem" in out
    assert "max GPUs 2" in out
    assert hc.hipercow_cluster_info().to_dict()["max_gpus"] == 2


def test_a_restarted_scheduler_keeps_the_gpus_of_the_tasks_it_adopts(example_root):
    first = _holding(gpus=2, requested_nodes="gpu-3")
    assert first.wait(for_start=True, timeout=WAIT)
    scheduler = psutil.Process(store.read_json_or(paths.scheduler_info(example_root))["pid"])
    scheduler.kill()  # its task runs on
    scheduler.wait(timeout=WAIT)
    second = _holding(gpus=2, requested_nodes="gpu-3")  # a new scheduler adopts the first
    driver = load_driver(find_root(), "local")
    expected = "waiting for 2 free GPUs on gpu-3: 2 of 2 in use"
    assert wait_until(lambda: driver.queue_details([second.id]).get(second.id), WAIT) == {
        "reason": "Resources",
        "reason_words": expected,
    }
    assert _release([first, second]) == [("gpu-3", "0,1"), ("gpu-3", "0,1")]
