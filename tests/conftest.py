"""Shared fixtures: a fresh root on the local driver, and cleaning up its processes."""

from __future__ import annotations

import signal

import psutil
import pytest

import hipercow_magic as hc
from hipercow_magic import store
from hipercow_magic.drivers.local import paths


def stop_local_scheduler(root) -> None:
    """Kill a root's local scheduler and every task process it started."""
    info = store.read_json_or(paths.scheduler_info(root))
    if info:
        try:
            proc = psutil.Process(info["pid"])
            for child in proc.children(recursive=True):
                child.kill()
            proc.send_signal(signal.SIGKILL)
        except psutil.NoSuchProcess:
            pass
    for proc in psutil.process_iter(["cmdline"]):
        cmdline = proc.info.get("cmdline") or []
        if "hipercow_magic.drivers.local.scheduler" in cmdline and root.path in cmdline:
            proc.kill()


@pytest.fixture
def root(tmp_path, monkeypatch, capsys):
    """A root at tmp_path using the local driver on this machine; cwd is the root."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("HIPERCOW_KEY_FILE", str(tmp_path.parent / f"{tmp_path.name}.key"))
    r = hc.hipercow_init(".", driver="local", idle_timeout=30)
    capsys.readouterr()
    yield r
    stop_local_scheduler(r)


@pytest.fixture
def example_root(tmp_path, monkeypatch, capsys):
    """A root on the local driver's `example` cluster (4 nodes x 4 cores, 3 queues)."""
    monkeypatch.chdir(tmp_path)
    r = hc.hipercow_init(".", driver="example", idle_timeout=30)
    capsys.readouterr()
    yield r
    stop_local_scheduler(r)


@pytest.fixture
def bare_root(tmp_path, monkeypatch, capsys):
    """A root with no driver configured."""
    monkeypatch.chdir(tmp_path)
    r = hc.hipercow_init(".")
    capsys.readouterr()
    return r


def pid_alive(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False

