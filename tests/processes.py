"""Test helpers shared by every folder: the checkout under test, stopping a root's local
scheduler, checking a pid, waiting, needing Slurm."""

from __future__ import annotations

import json
import os
import pathlib
import signal
import subprocess
import sys
import time

import psutil
import pytest

from hipercow_magic.core import store
from hipercow_magic.drivers.local import paths

SOURCE = str(pathlib.Path(__file__).resolve().parent.parent)  # the checkout's top folder


def source_environment(extra: dict | None = None) -> dict:
    """os.environ for a child process (a kernel, a CLI) that must import this checkout."""
    path = os.environ.get("PYTHONPATH")
    return {
        **os.environ,
        "PYTHONPATH": SOURCE + (os.pathsep + path if path else ""),
        **(extra or {}),
    }


def run_cli(*args: str, cwd=None, input=None, env: dict | None = None, **kwargs):
    """The `hipercow` command run as a process of its own (importing this checkout), its
    output captured as text; `env`: variables to add to the environment.
    """
    return subprocess.run(
        [sys.executable, "-m", "hipercow_magic.cli", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        input=input,
        env=source_environment(env),
        timeout=120,
        check=False,
        **kwargs,
    )


# A task's code that touches every page of `size` bytes, then holds them a moment.
ALLOCATES = """
import time
block = bytearray(size)
for at in range(0, len(block), 4096):
    block[at] = 1
time.sleep(1.5)
len(block)
"""


def _schedules(cmdline: list[str] | None, root) -> bool:
    """Whether a process's command line is that of `root`'s local scheduler."""
    cmdline = cmdline or []
    return "hipercow_magic.drivers.local.scheduler" in cmdline and root.path in cmdline


def stop_local_scheduler(root) -> None:
    """Kill a root's local scheduler and every task process it started. The pid its info
    file names is only trusted while it is still that scheduler's: a scheduler that ended
    long ago may have left its pid to any process since (an sshd, another test's).
    """
    info = store.read_json_or(paths.scheduler_info(root))
    if info:
        try:
            proc = psutil.Process(info["pid"])
            if _schedules(proc.cmdline(), root):
                for child in proc.children(recursive=True):
                    child.kill()
                proc.send_signal(signal.SIGKILL)
        except psutil.Error:
            pass
    for proc in psutil.process_iter(["cmdline"]):
        if _schedules(proc.info.get("cmdline"), root):
            proc.kill()


def scheduler_pid(root) -> int:
    """The pid of the local scheduler serving `root` now (its info file's)."""
    return store.read_json(paths.scheduler_info(root))["pid"]


def pid_alive(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def wait_until(predicate, timeout: float = 20.0, every: float = 0.05):
    """Poll `predicate` every `every` seconds until it returns something true (returned),
    or fail."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(every)
    raise AssertionError(f"timed out waiting for {predicate}")


def cancel_slurm_jobs(path) -> None:
    """Leave no Slurm job of the root at `path` behind, whatever a test did."""
    path = pathlib.Path(path)
    records = [
        *path.glob("hipercow/tasks/*/*/driver/job.json"),
        *path.glob("hipercow/slurm/arrays/*/job.json"),
    ]
    jobs = [json.loads(p.read_text())["job_id"] for p in records]
    if jobs:
        subprocess.run(["scancel", *jobs], capture_output=True, check=False)


def skip_or_fail(message: str) -> None:
    """Skip the test for want of a service it needs; in CI (where .ci/run starts every
    service and sets CI=1), fail instead.
    """
    if os.environ.get("CI"):
        pytest.fail(message)
    pytest.skip(message)


def require_slurm() -> None:
    """Skip the test when the project's Slurm is not running (fail instead in CI)."""
    try:
        proc = subprocess.run(
            ["sinfo", "-h", "-o", "%T"], capture_output=True, text=True, timeout=30, check=False
        )
        problem = (
            None if proc.returncode == 0 and proc.stdout.strip() else proc.stderr or "no nodes"
        )
    except (FileNotFoundError, subprocess.TimeoutExpired) as e:
        problem = str(e)
    if problem:
        skip_or_fail(f"Slurm is not running (start it with scripts/start-slurm.sh): {problem}")


def require_sshd(alias: str = "hipercow-cluster") -> None:
    """Skip the test when the project's cluster behind SSH (scripts/start-sshd.sh) can't run
    its Python with hipercow_magic over `ssh alias` (fail instead in CI).
    """
    command = "python3 -c 'import hipercow_magic'"
    try:
        proc = subprocess.run(
            ["ssh", "-o", "BatchMode=yes", "-o", "ControlPath=none", alias, command],
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
        problem = None if proc.returncode == 0 else proc.stderr.strip() or "python3 failed"
    except (FileNotFoundError, subprocess.TimeoutExpired) as e:
        problem = str(e)
    if problem:
        skip_or_fail(f"The SSH cluster is not up (start it with scripts/start-sshd.sh): {problem}")


def magic_shell(ip, capsys, display: str):
    """The shell with a clean namespace showing `display`; afterwards nothing of the test's
    (widgets, running tasks, values still to arrive) reaches the next test."""
    import hipercow_magic as hc
    from hipercow_magic.magics import loaded_magics
    from hipercow_magic.widgets.updater import get_updater

    ip.reset()
    loaded_magics(ip).display = display
    yield ip
    magics = loaded_magics(ip)
    magics.display = "auto"
    updater = get_updater()
    for model in updater.watched():
        updater.unwatch(model)
    updater.stop()  # a refresh under way ends first: nothing it says comes after the flush
    for task_id in hc.task_list(with_status=["submitted", "running"]):
        hc.task_cancel(task_id)
    magics._awaiting.clear()
    magics.delivery.flush()
    capsys.readouterr()


def shown_clock(t: float) -> str:
    """A time as displays write it to the minute: '18:05' today, '2030-01-31 18:05' on
    another day.
    """
    today = time.strftime("%Y-%m-%d") == time.strftime("%Y-%m-%d", time.localtime(t))
    return time.strftime("%H:%M" if today else "%Y-%m-%d %H:%M", time.localtime(t))
