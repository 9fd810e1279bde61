"""The remote side of the project's test cluster behind SSH (the account `hpc`, whose home
plays the cluster's filesystem), for the tests of remote roots: fresh remote roots and their
removal, commands run as `hpc`, what sshd logged about one root's connections, and a root
seen from both sides.
"""

from __future__ import annotations

import contextlib
import io
import os
import pathlib
import re
import shutil
import subprocess
import threading
import uuid

import psutil
from processes import stop_local_scheduler

from hipercow_magic.core.root import Root

WAIT = 120
HOME = pathlib.Path("/home/hpc")  # the cluster account's home: its filesystem
NODE = "far-node"  # the one node of the virtual cluster configured on the remote side


# ---- the remote side, its processes and its sshd log ---------------------------------------
def remove_remote(remote_path: str) -> None:
    """Stop the local scheduler of the remote root at `remote_path` (a process of hpc's) and
    its tasks, and delete the remote root.
    """
    if os.path.isdir(remote_path):
        stop_local_scheduler(Root(remote_path))
    shutil.rmtree(remote_path, ignore_errors=True)


def init_root_there(path, cluster: str, given: str, node: str, cores: int, memory: int):
    """A root at `path` (quietly made) whose local driver runs on the cluster with one node
    (`node` of `cores` cores and `memory` GB), its copy there at `given`.
    """
    import hipercow_magic as hc

    with contextlib.redirect_stdout(io.StringIO()):
        return hc.hipercow_init(
            str(path),
            driver="local",
            ssh=cluster,
            remote_root=given,
            nodes=[{"name": node, "cores": cores, "memory": memory}],
            idle_timeout=60,
        )


def fresh_remote_root() -> tuple[str, str]:
    """A remote root not used yet: as given to remote_root=, and as a path here."""
    name = f"roots/test-{uuid.uuid4().hex[:12]}"
    return f"~/{name}", str(HOME / name)


def as_hpc(script: str) -> str:
    """Run a shell script as the cluster's user (its files are its own); its output."""
    out = subprocess.run(
        ["runuser", "-u", "hpc", "--", "bash", "-c", f"cd ~ && {script}"],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    return out.stdout


class SshdLines:
    """What sshd logged since this was made, about the connections of one root's master:
    its logins and commands counted by the client port they came from, so that other users
    of the same sshd are not counted. `watch()` records the ports of every ssh process using
    the root's control socket (masters, and any connection made without one).
    """

    def __init__(self, log_path: pathlib.Path, control_path: str):
        self.log_path = log_path
        self.control_path = control_path
        self.offset = log_path.stat().st_size
        self.ports: set[int] = set()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def _sample(self) -> None:
        for proc in psutil.process_iter(["name", "cmdline"]):
            if proc.info["name"] != "ssh":
                continue
            if not any(self.control_path in a for a in proc.info["cmdline"] or []):
                continue
            try:
                for c in proc.net_connections(kind="tcp"):
                    if c.raddr and c.raddr.port == 2222:
                        self.ports.add(c.laddr.port)
            except psutil.Error:
                pass

    def watch(self) -> None:
        """Record the ports of the root's ssh connections every 50 ms, until `stop()`."""

        def loop():
            while not self._stop.is_set():
                self._sample()
                self._stop.wait(0.05)

        self._thread = threading.Thread(target=loop, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop watching (after a last look)."""
        self._sample()
        self._stop.set()
        if self._thread is not None:
            self._thread.join()

    def _count(self, words: str) -> int:
        self._sample()
        with open(self.log_path, errors="replace") as f:
            f.seek(self.offset)
            text = f.read()
        return sum(
            len(re.findall(rf"{words} for hpc from 127\.0\.0\.1 port {port}\b", text))
            for port in self.ports
        )

    def logins(self) -> int:
        """Logins sshd accepted on the root's connections."""
        return self._count("Accepted publickey")

    def commands(self) -> int:
        """Remote commands sshd started on the root's connections."""
        return self._count("Starting session: command")


class Far:
    """The module's root here (`.root`, `.path`) and its copy on the cluster (`.remote`)."""

    def __init__(self, root, remote: str):
        self.root = root
        self.path = pathlib.Path(root.path)
        self.remote = pathlib.Path(remote)

    def there(self, task_id: str) -> pathlib.Path:
        """A task's folder on the remote side."""
        return self.remote / "hipercow" / "tasks" / task_id[:2] / task_id[2:]
