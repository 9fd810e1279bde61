"""Test helpers for processes: stopping a root's local scheduler, checking a pid."""

from __future__ import annotations

import signal

import psutil

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


def pid_alive(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False
