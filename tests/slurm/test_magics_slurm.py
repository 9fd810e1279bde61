"""The magics against the project's real single-node Slurm (scripts/start-slurm.sh)."""

from __future__ import annotations

import time

import pytest
from IPython.core.error import UsageError
from processes import require_slurm

import hipercow_magic as hc
from hipercow_magic.magics import loaded_magics

pytestmark = pytest.mark.slurm


@pytest.fixture
def shell(tmp_path, monkeypatch, capsys):
    require_slurm()
    from IPython import get_ipython
    from IPython.testing.globalipapp import start_ipython

    ip = start_ipython() or get_ipython()
    ip.run_line_magic("load_ext", "hipercow_magic")
    ip.reset()
    monkeypatch.chdir(tmp_path)
    ip.run_line_magic("hipercow", "init . --driver slurm --option poll_interval=0.5")
    capsys.readouterr()
    yield ip
    for task_id in hc.task_list(with_status=["submitted", "running"]):
        hc.task_cancel(task_id)
    loaded_magics(ip)._awaiting.clear()
    loaded_magics(ip).delivery.flush()
    capsys.readouterr()


def wait_terminal(task_id: str, timeout: float = 120) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        status = hc.task_status(task_id)
        if status in ("success", "failure", "cancelled"):
            return status
        time.sleep(0.5)
    raise AssertionError(f"task {task_id} did not finish on Slurm")


def test_a_cell_runs_on_slurm_and_its_values_come_back(shell, capsys):
    shell.user_ns.update(base=40, unused=object())
    result = shell.run_cell(
        "%%hipercow --cores 1 --max-runtime 10 -o job\n"
        "import os\nanswer = base + 2\nwhere = os.environ['HIPERCOW_CORES']"
    )
    assert result.error_in_exec is None
    job = shell.user_ns["job"]
    assert hc.task_info(job.id).data["locals"] == ["base"]
    assert "driver slurm" in capsys.readouterr().out
    assert wait_terminal(job.id) == "success"
    shell.run_cell("pass")
    assert shell.user_ns["answer"] == 42 and shell.user_ns["where"] == "1"


def test_bulk_wait_and_cluster_info_on_slurm(shell, capsys):
    shell.run_line_magic("hipercow_info", "")
    assert "(driver 'slurm')" in capsys.readouterr().out
    shell.user_ns["rows"] = [{"v": 1}, {"v": 2}]
    result = shell.run_cell("%%hipercow --bulk rows --wait\nv * 100")
    assert result.result == [100, 200]
    with pytest.raises(UsageError, match="queue is not available"):
        shell.run_cell("%%hipercow --queue nowhere\nx = 1").raise_error()
