"""The slurm driver behind SSH: tasks created here are submitted by the test cluster's user
`hpc` to the project's real Slurm, from the remote copy of the root, and their results,
errors and figures come back here; each poll is one remote command running one squeue.
"""

from __future__ import annotations

import io
import json
import pathlib
import subprocess
import time
from contextlib import redirect_stdout

import pytest
from far_side import Far, SshdLines, as_hpc, fresh_remote_root, remove_remote
from processes import cancel_slurm_jobs, require_slurm, wait_until

import hipercow_magic as hc
from hipercow_magic.core import store
from hipercow_magic.drivers.registry import load_driver

WAIT = 180
TERMINAL = ("success", "failure", "cancelled")


class SlurmFar(Far):
    """The module's root, its remote copy, and a count of the squeue runs of its agent."""

    def __init__(self, root, remote: str, squeue_log: pathlib.Path):
        super().__init__(root, remote)
        self.squeue_log = squeue_log

    def squeue_runs(self) -> int:
        """How many times squeue ran on the remote side for this root so far."""
        try:
            return len(self.squeue_log.read_text().splitlines())
        except FileNotFoundError:
            return 0

    def job_id(self, task_id: str) -> str:
        """The Slurm job of a task submitted on its own."""
        return json.loads((self.there(task_id) / "driver" / "job.json").read_text())["job_id"]


def count_squeue(root, remote: str) -> pathlib.Path:
    """Make the root's agent run with a folder first on its PATH whose `squeue` notes each
    run in a file, then runs Slurm's own (/usr/bin/squeue): the saved configuration's
    remote Python becomes a script that sets PATH, then runs the configured one. The file.
    """
    counted = f"{remote}-counted"
    log = f"{counted}/squeue-runs"
    config = root.driver_config("slurm")
    python = config["remote"]["remote_python"]
    as_hpc(
        f"mkdir -p {counted}/bin && "
        f"printf '#!/bin/sh\\necho run >> {log}\\nexec /usr/bin/squeue \"$@\"\\n' "
        f"> {counted}/bin/squeue && "
        f"printf '#!/bin/sh\\nPATH={counted}/bin:$PATH exec {python} \"$@\"\\n' "
        f"> {counted}/python && chmod +x {counted}/bin/squeue {counted}/python"
    )
    config["remote"]["remote_python"] = f"{counted}/python"
    store.write_json(root.config_path("slurm"), config)
    return pathlib.Path(log)


@pytest.fixture(scope="module")
def far(cluster, tmp_path_factory):
    """A root here whose slurm driver runs on the test cluster, shared by the module's tests;
    afterwards its Slurm jobs are cancelled, the connection closed and the remote root (with
    its squeue counter) deleted.
    """
    require_slurm()
    path = tmp_path_factory.mktemp("remote_slurm")
    given, remote = fresh_remote_root()
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("HIPERCOW_KEY_FILE", str(path.parent / f"{path.name}.key"))
        mp.chdir(path)
        with redirect_stdout(io.StringIO()):
            root = hc.hipercow_init(
                str(path), driver="slurm", ssh=cluster, remote_root=given, poll_interval=0.5
            )
        try:
            yield SlurmFar(root, remote, count_squeue(root, remote))
        finally:
            cancel_slurm_jobs(remote)
            load_driver(root, "slurm").connection.close()
            remove_remote(remote)
            remove_remote(f"{remote}-counted")


@pytest.fixture
def here(far, monkeypatch):
    """Run the test from inside the module's root."""
    monkeypatch.chdir(far.path)
    return far


def ended(task, timeout: float = WAIT) -> str:
    task.wait(timeout=timeout)
    return task.status()


def test_an_expression_a_bulk_and_a_failure_make_the_round_trip(here):
    task = hc.task_create_expr("import getpass, os\n(getpass.getuser(), 6 * 7)")
    assert ended(task) == "success"
    assert task.result() == ("hpc", 42)
    assert (here.there(task.id) / "status-success").exists()

    bundle = hc.task_create_bulk_expr("x * x", [{"x": i} for i in range(5)])
    assert bundle.wait(timeout=WAIT)
    assert bundle.result() == [i * i for i in range(5)]

    code = "def check(n):\n    if n > 2:\n        raise ValueError(f'too big: {n}')\n\ncheck(3)"
    failed = hc.task_create_expr(code)
    assert ended(failed) == "failure"
    error = failed.result()
    assert isinstance(error, ValueError) and str(error) == "too big: 3"
    assert "raise ValueError(f'too big: {n}')" in error.node_traceback
    assert "ValueError: too big: 3" in hc.task_log_value(failed.id)


def test_cancel_ends_the_slurm_job(here):
    task = hc.task_create_expr("import time\ntime.sleep(300)")
    wait_until(lambda: task.status() == "running", timeout=WAIT, every=0.5)
    job = here.job_id(task.id)
    with redirect_stdout(io.StringIO()):
        assert hc.task_cancel(task.id) is True
    assert task.status() == "cancelled"

    def gone():
        out = subprocess.run(
            ["squeue", "-h", "-j", job, "-t", "PD,R,CG", "-o", "%i"],
            capture_output=True,
            text=True,
            check=False,
        )
        return not out.stdout.strip()

    wait_until(gone, timeout=60, every=0.5)


def test_each_poll_is_one_remote_command_running_one_squeue(here, sshd_log):
    driver = load_driver(here.root, "slurm")
    lines = SshdLines(sshd_log.path, driver.connection.control_path)
    lines.watch()
    try:
        bundle = hc.task_create_bulk_expr(
            "import time\ntime.sleep(2)\nx + 1", [{"x": i} for i in range(6)]
        )
        polls = []
        while True:
            commands, squeues = lines.commands(), here.squeue_runs()
            statuses = hc.task_status(bundle.ids)
            polls.append((lines.commands() - commands, here.squeue_runs() - squeues))
            if all(s in TERMINAL for s in statuses):
                break
            time.sleep(0.5)
    finally:
        lines.stop()
    assert statuses == ["success"] * 6
    assert bundle.result() == [i + 1 for i in range(6)]
    # one remote command each; one squeue, or none once the tasks' own markers say they ended
    assert len(polls) > 1 and {c for c, _ in polls} == {1}, polls
    assert {s for _, s in polls[:-1]} == {1} and polls[-1][1] <= 1, polls


def test_what_a_task_used_is_known_after_its_end(here):
    burn = "import time\nwhile time.process_time() < 1:\n    pass\n'burnt'"
    task = hc.task_create_expr(burn)
    assert ended(task) == "success" and task.result() == "burnt"
    usage = wait_until(
        lambda: (u := hc.task_usage(task)) is not None and not u.running and u,
        timeout=120,
        every=1,
    )
    assert usage.source == "Slurm accounting (sacct)"
    assert usage.cpu >= 0.9
