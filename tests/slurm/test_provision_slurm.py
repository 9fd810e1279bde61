"""Environments and provisioning on the project's real single-node Slurm (scripts/start-slurm.sh).

The installation itself runs as a Slurm job; tasks then import what it installed.
"""

import os

import pytest
from processes import require_slurm

import hipercow_magic as hc
from hipercow_magic import api
from hipercow_magic.core.errors import HipercowError

pytestmark = [pytest.mark.slurm, pytest.mark.slow]
WAIT = 180


@pytest.fixture(scope="module")
def sroot(tmp_path_factory):
    """A Slurm root where 'default' has cowsay 6.0 provisioned (built by a Slurm job)."""
    require_slurm()
    path = tmp_path_factory.mktemp("slurm-provision")
    old = os.getcwd()
    os.chdir(path)
    try:
        root = hc.hipercow_init(str(path), driver="slurm", poll_interval=0.5)
        with open("helpers.py", "w") as f:
            f.write(
                "import cowsay\nGREETING = 'moo'\n\n"
                "def tag(x):\n    return f'{GREETING}-{cowsay.__version__}-{x}'\n"
            )
        hc.hipercow_provision(requirements=["cowsay==6.0"])
        yield root
        active = [i for i in api.task_list() if hc.task_status(i) in ("submitted", "running")]
        if active:
            hc.task_cancel(active)
    finally:
        os.chdir(old)


@pytest.fixture(autouse=True)
def in_root(sroot, monkeypatch):
    monkeypatch.chdir(sroot.path)


def test_installation_ran_as_a_slurm_job(sroot):
    record = hc.hipercow_provision_list()[-1]
    assert record["status"] == "success"
    info = hc.task_info(record["task"])
    assert info.driver == "slurm"
    assert [p["name"] for p in record["packages"]] == ["cowsay"]


def test_task_imports_the_provisioned_package_and_empty_cannot(sroot):
    ok = hc.task_create_expr("import cowsay\nprint('cowsay', cowsay.__version__)")
    bare = hc.task_create_expr("import cowsay", environment="empty")
    assert hc.task_wait(ok.id, timeout=WAIT), ok.log()
    assert "cowsay 6.0" in ok.log()
    assert not hc.task_wait(bare.id, timeout=WAIT)
    error = bare.result()
    assert isinstance(error, ImportError) and "No module named 'cowsay'" in str(error)


def test_sources_and_globals_reach_the_task_and_its_pool_workers(sroot):
    hc.hipercow_environment_create("helpers", sources=["helpers.py"], globals=True)
    assert hc.hipercow_environment_show("helpers")["globals"] == ["GREETING", "cowsay", "tag"]
    task = hc.task_create_expr(
        "from hipercow_magic import pool\n(tag(0), pool().map(tag, [1, 2]))",
        environment="helpers",
        resources=hc.hipercow_resources(cores=2),
        parallel=hc.hipercow_parallel("parallel"),
    )
    assert hc.task_wait(task.id, timeout=WAIT), task.log()
    assert task.result() == ("moo-6.0-0", ["moo-6.0-1", "moo-6.0-2"])


def test_failed_installation_then_a_second_one_and_compare(sroot, capsys):
    first = hc.hipercow_provision_list()[-1]
    with pytest.raises(HipercowError, match="Installation failed after"):
        hc.hipercow_provision(requirements=["hipercow-magic-no-such-package==0.0.1"])
    assert "No matching distribution found" in capsys.readouterr().out
    still = hc.task_create_expr("import cowsay\nprint('still', cowsay.__version__)")
    assert hc.task_wait(still.id, timeout=WAIT), still.log()
    assert "still 6.0" in still.log()

    hc.hipercow_provision(requirements=["cowsay==6.1", "tomli==2.0.1"])
    capsys.readouterr()
    records = hc.hipercow_provision_list()
    out = capsys.readouterr().out
    assert out.startswith(
        "2 installations recorded for environment 'default' (and 1 not successful)"
    )
    assert f"• 1: {first['id']}" in out and "(current) pip cowsay==6.1 tomli==2.0.1" in out
    assert records[-1]["status"] == "success"
    diff = hc.hipercow_provision_compare()
    assert diff["added"] == {"tomli": "2.0.1"}
    assert diff["changed"] == {"cowsay": ("6.0", "6.1")}
    assert "Changed (1):\n  • cowsay 6.0 → 6.1" in capsys.readouterr().out
    after = hc.task_create_expr("import cowsay\nprint('now', cowsay.__version__)")
    assert hc.task_wait(after.id, timeout=WAIT), after.log()
    assert "now 6.1" in after.log()
