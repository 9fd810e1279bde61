"""A notebook as a pipeline on the project's real Slurm, in a real Jupyter kernel: three
`%%hipercow` cells, each reading what the one before sets, are all submitted at once as Slurm
jobs held by their dependencies; the kernel can be shut down and the chain still completes,
and a failing first cell cancels the other two with nothing left in the queue.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
from kernel.test_kernel_magics import Kernel
from processes import cancel_slurm_jobs, require_slurm, wait_until

import hipercow_magic as hc
from hipercow_magic.core.root import find_root
from hipercow_magic.drivers.registry import load_driver

pytestmark = pytest.mark.slurm  # and slow: a kernel or two and a Slurm chain

SETUP = "%load_ext hipercow_magic\n%hipercow init . --driver slurm --option poll_interval=0.5"
GATE = (
    "import os, time\n"
    "deadline = time.time() + 300\n"
    "while not os.path.exists('go') and time.time() < deadline:\n"
    "    time.sleep(0.1)\n"
)


@pytest.fixture
def folder(tmp_path):
    require_slurm()
    yield tmp_path
    cancel_slurm_jobs(tmp_path)


@pytest.fixture
def kernel(folder):
    k = Kernel(folder)
    out = k.run(SETUP)
    assert out["status"] == "ok", out
    yield k
    k.shutdown()


def _submit(kernel: Kernel, code: str) -> str:
    """Run a `%%hipercow -o t` cell that must return at once; its task's id."""
    out = kernel.run(code, timeout=60)
    assert out["status"] == "ok", out
    return json.loads(kernel.evaluate("t.id").replace("'", '"'))


def _submit_chain(kernel: Kernel, first: str) -> tuple[str, str, str]:
    """Cell 1 (held until the file `go` exists) sets `a`; cell 2 reads `a` and sets `b`;
    cell 3 reads `b` and sets `c`; all submitted while cell 1's task is held.
    """
    t1 = _submit(kernel, f"%%hipercow -o t\n{GATE}{first}")
    t2 = _submit(kernel, "%%hipercow -o t\nb = a * 2")
    t3 = _submit(kernel, "%%hipercow -o t\nc = b + 1\nc")
    return t1, t2, t3


def _slurm(folder: Path):
    return load_driver(find_root(str(folder)), "slurm")


def _queued(folder: Path, ids) -> list[str]:
    """The jobs of these tasks that squeue still lists as pending or running."""
    jobs = [_slurm(folder).job_record(t)["job_id"] for t in ids]
    proc = subprocess.run(
        ["squeue", "-h", "-t", "PENDING,RUNNING,CONFIGURING", "-j", ",".join(jobs), "-o", "%i"],
        capture_output=True,
        text=True,
        check=False,
    )
    return proc.stdout.split()


def test_a_chain_of_cells_completes_on_slurm_with_the_kernel_shut_down(folder, kernel):
    t1, t2, t3 = _submit_chain(kernel, "a = 21")
    root = str(folder)
    driver = _slurm(folder)
    # All three are Slurm jobs now; the second and third are held by Slurm, not the kernel.
    for parent, child in ((t1, t2), (t2, t3)):
        script = Path(driver.job_record(child)["script"]).read_text()
        assert f"--dependency=afterok:{driver.job_record(parent)['job_id']}\n" in script
    for t in (t2, t3):
        assert wait_until(lambda t=t: driver.info(t).get("reason"), 60) == "Dependency"
    assert hc.task_info(t2, root=root).data["imports"] == {"a": t1}
    kernel.shutdown()

    (folder / "go").touch()
    assert hc.task_wait(t3, timeout=180, root=root)
    assert hc.task_status([t1, t2, t3], root=root) == ["success"] * 3
    assert hc.task_exports(t3, root=root) == {"c": 43}
    times = hc.task_times([t1, t2, t3], root=root)
    assert times[0]["finished"] <= times[1]["started"]
    assert times[1]["finished"] <= times[2]["started"]

    again = Kernel(folder)
    try:
        out = again.run(
            "%load_ext hipercow_magic\n%config HipercowMagics.display = 'text'\n%hipercow list"
        )
        assert all(t[:8] in out["stdout"] for t in (t1, t2, t3)), out["stdout"]
        out = again.run(f"%hipercow show {t3[:8]} --export")
        assert f"hipercow task {t3[:8]}" in out["stdout"]
        assert again.run("c")["results"][-1]["text/plain"] == "43"
    finally:
        again.shutdown()


def test_a_failing_first_cell_cancels_the_two_after_it_on_slurm(folder, kernel):
    t1, t2, t3 = _submit_chain(kernel, "a = 1 / 0")
    root = str(folder)
    kernel.shutdown()
    (folder / "go").touch()
    assert not hc.task_wait(t3, timeout=180, root=root)
    assert hc.task_status([t1, t2, t3], root=root) == ["failure", "cancelled", "cancelled"]
    failed = f"upstream task {t1[:8]} failed"
    assert hc.task_info(t2, root=root).reason == failed
    assert hc.task_info(t3, root=root).reason == failed
    assert not hc.task_times([t2], root=root)[0]["started"], "the second cell never ran"
    assert wait_until(lambda: not _queued(folder, [t1, t2, t3]), 60), "nothing left in squeue"
