"""GPUs on the project's Slurm: its node declares 2 GPUs of type tesla (stand-in devices,
scripts/start-slurm.sh), so a GPU request becomes --gres in the batch script, runs with
CUDA_VISIBLE_DEVICES naming its own GPUs, and one no node could meet is refused before
anything is submitted.
"""

import os

import pytest

import hipercow_magic as hm
from hipercow_magic.api import slurm_script
from hipercow_magic.core.errors import HipercowError
from hipercow_magic.core.root import find_root
from hipercow_magic.drivers.registry import load_driver
from hipercow_magic.drivers.slurm import COUNTS

pytestmark = [pytest.mark.slurm, pytest.mark.usefixtures("in_root")]
SEES_GPUS = "import os\nos.environ.get('CUDA_VISIBLE_DEVICES')"


@pytest.fixture(scope="module", autouse=True)
def gpus(root_path):
    """The node's GPUs as the cluster's description gives them (skipped where the project's
    Slurm was started with SLURM_NODE_GPUS=0).
    """
    info = load_driver(find_root(str(root_path)), "slurm").cluster_info()
    if not info.max_gpus:
        pytest.skip("the Slurm node declares no GPUs (SLURM_NODE_GPUS=0)")
    return info


def test_the_nodes_gpus_come_from_sinfo(gpus):
    assert gpus.max_gpus == 2 and gpus.gpu_types == ["tesla"]
    assert "gpus" in str(hm.hipercow_cluster_info())


def test_a_gpu_request_becomes_gres_in_the_batch_script():
    task = hm.task_create_expr("1", driver=False)
    typed = slurm_script(task.id, resources=hm.hipercow_resources(gpus=2, gpu_type="tesla"))
    assert "#SBATCH --gres=gpu:tesla:2\n" in typed
    untyped = slurm_script(task.id, resources=hm.hipercow_resources(gpus=1))
    assert "#SBATCH --gres=gpu:1\n" in untyped
    assert "--gres" not in slurm_script(task.id)


@pytest.mark.parametrize(("gpus", "seen"), [(1, "0"), (2, "0,1")])
def test_a_gpu_task_sees_its_own_gpus(gpus, seen):
    task = hm.task_create_expr(
        SEES_GPUS, namespace={}, resources=hm.hipercow_resources(gpus=gpus, gpu_type="tesla")
    )
    assert task.wait(timeout=120) is True, task.log()
    assert task.result() == seen
    plain = hm.task_create_expr(SEES_GPUS, namespace={})
    assert plain.wait(timeout=120) is True
    assert plain.result() == os.environ.get("CUDA_VISIBLE_DEVICES")  # Slurm gave it none


def test_gpus_no_node_has_are_refused_and_nothing_is_submitted(root_path):
    tasks = root_path / "hipercow" / "tasks"
    before = (sorted(tasks.rglob("data.json")), COUNTS["sbatch"])
    with pytest.raises(HipercowError, match="3 GPUs are too many for this cluster"):
        hm.task_create_expr("1", resources=hm.hipercow_resources(gpus=3))
    with pytest.raises(HipercowError, match="No node of this cluster has 1 GPU of type 'v100'"):
        hm.task_create_expr("1", resources=hm.hipercow_resources(gpus=1, gpu_type="v100"))
    assert (sorted(tasks.rglob("data.json")), COUNTS["sbatch"]) == before
