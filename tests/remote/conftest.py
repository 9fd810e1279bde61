"""Fixtures of the tests that reach the project's cluster behind SSH (scripts/start-sshd.sh):
its alias, its sshd's log (counting logins and commands), ssh_config files of a test's own,
and cutting the network to it.
"""

from __future__ import annotations

import pathlib
import re
import signal
import subprocess
import uuid

import psutil
import pytest
from processes import SOURCE, require_sshd

from hipercow_magic.drivers.remote.ssh import SshConnection

CLUSTER = "hipercow-cluster"  # the alias scripts/start-sshd.sh writes into root's ~/.ssh/config
SSHD_LOG = pathlib.Path("/var/log/hipercow-sshd.log")
SSHD_PID = pathlib.Path("/tmp/hipercow-sshd/pid")
CLIENT_KEY = pathlib.Path("/root/.ssh/hipercow_cluster_ed25519")
KNOWN_HOSTS = pathlib.Path("/root/.ssh/hipercow_cluster_known_hosts")
START_SSHD = pathlib.Path(SOURCE) / "scripts" / "start-sshd.sh"


@pytest.fixture(scope="session")
def cluster() -> str:
    """The ssh alias of the test cluster, 'hipercow-cluster': sshd on 127.0.0.1:2222, the
    user `hpc` (home /home/hpc plays the cluster's filesystem) whose `python3` is a venv with
    this checkout; the project's Slurm runs hpc's jobs. Its sshd is started when it is not
    running (as the set-up does); skips the test when it can't be reached all the same
    (fails instead under CI).
    """
    if not _sshd_running():
        subprocess.run(["bash", str(START_SSHD)], capture_output=True, check=False, timeout=300)
    require_sshd(CLUSTER)
    return CLUSTER


def _sshd_running() -> bool:
    """Whether the test cluster's sshd (the pid scripts/start-sshd.sh recorded) runs."""
    try:
        return psutil.Process(int(SSHD_PID.read_text())).name() == "sshd"
    except (OSError, ValueError, psutil.Error):
        return False


@pytest.fixture
def connection(cluster):
    """An SshConnection to the cluster with a control key of its own (so a master connection
    of its own, opened by its first command); closed after the test.
    """
    conn = SshConnection(cluster, f"test-{uuid.uuid4().hex}")
    yield conn
    conn.close()


def master_pid_of(conn: SshConnection) -> int | None:
    """The pid of `conn`'s master connection (`ssh -O check`), None when none is open."""
    config = ["-F", conn.ssh_config] if conn.ssh_config else []
    said = subprocess.run(
        ["ssh", *config, "-o", f"ControlPath={conn.control_path}", "-O", "check", conn.destination],
        capture_output=True,
        text=True,
        check=False,
    ).stderr
    found = re.search(r"pid=(\d+)", said)
    return int(found.group(1)) if found else None


@pytest.fixture
def master_pid(cluster):
    """A function: the pid of an SshConnection's master connection (the `ssh` process
    holding the login; kill it to lose the connection), None when none is open.
    """
    return master_pid_of


class SshdLog:
    """The test cluster's sshd log (LogLevel VERBOSE) from the moment the test began: what
    was logged earlier is not counted. `connection=` (an SshConnection) counts only what
    happened on its current master connection (told apart by its TCP port), which other
    sessions using the cluster at the same time can't disturb.
    """

    path = SSHD_LOG

    def __init__(self):
        self.offset = SSHD_LOG.stat().st_size

    def authentications(self, connection: SshConnection | None = None) -> int:
        """How many logins of `hpc` sshd accepted (one per connection: a master connection
        costs one, the commands over it none).
        """
        return self._count("Accepted publickey", connection)

    def commands(self, connection: SshConnection | None = None) -> int:
        """How many remote commands of `hpc` sshd started (one per `ssh ... command`, over a
        master connection or not).
        """
        return self._count("Starting session: command", connection)

    def _count(self, words: str, connection: SshConnection | None) -> int:
        port = r"\d+"
        if connection is not None:
            pid = master_pid_of(connection)
            if pid is None:
                return 0
            ports = [c.laddr.port for c in psutil.Process(pid).net_connections("tcp") if c.raddr]
            port = "|".join(map(str, ports)) or "none"
        with open(self.path, "rb") as f:
            f.seek(self.offset)
            text = f.read().decode(errors="replace")
        return len(re.findall(rf"{words} for hpc from 127\.0\.0\.1 port ({port})\b", text))


@pytest.fixture
def sshd_log(cluster) -> SshdLog:
    """The test cluster's sshd log since the test began: `.authentications()` and
    `.commands()` count logins and remote commands (of one connection with `connection=`),
    `.path` is the file.
    """
    return SshdLog()


@pytest.fixture
def cluster_config(cluster, tmp_path):
    """A function writing an ssh_config file of the test's own (for `ssh -F`, the
    ssh_config= of a connection) with one host `alias` reaching the test cluster as the alias
    hipercow-cluster does, but for `options` (ssh_config keywords, e.g. Port=2, IdentityFile=
    another key, UserKnownHostsFile=another file); returns the file's path.
    """

    def write(alias: str, **options: str) -> str:
        settings = {
            "HostName": "127.0.0.1",
            "Port": "2222",
            "User": "hpc",
            "IdentityFile": str(CLIENT_KEY),
            "IdentitiesOnly": "yes",
            "UserKnownHostsFile": str(KNOWN_HOSTS),
            "StrictHostKeyChecking": "yes",
            **{k: str(v) for k, v in options.items()},
        }
        path = tmp_path / f"ssh_config.{alias}"
        path.write_text(f"Host {alias}\n" + "".join(f"    {k} {v}\n" for k, v in settings.items()))
        return str(path)

    return write


class Network:
    """The way between this machine and the test cluster, which a test may cut and restore.

    cut() does what a lost network does to SSH: the cluster's sshd stops listening (new
    connections are refused) AND every connection open now ends (its per-connection sshd
    processes are killed, so master connections and the commands running over them see the
    connection closed); the commands' own processes on the cluster are left running.
    restore() starts the listener again (scripts/start-sshd.sh); connections are not brought
    back, the next command must open a new one.
    """

    def __init__(self):
        self.is_cut = False

    def cut(self) -> None:
        """Stop sshd's listener and end every open connection to it; returns once they are
        gone.
        """
        listener = psutil.Process(int(SSHD_PID.read_text()))
        connections = [p for p in listener.children(recursive=True) if p.name().startswith("sshd")]
        self.is_cut = True
        for proc in [listener, *connections]:
            try:
                proc.send_signal(signal.SIGKILL)
            except psutil.NoSuchProcess:
                pass
        psutil.wait_procs([listener, *connections], timeout=10)

    def restore(self) -> None:
        """Start the cluster's sshd again (new connections are accepted once it returns)."""
        subprocess.run(["bash", str(START_SSHD)], capture_output=True, check=True, timeout=120)
        self.is_cut = False


@pytest.fixture
def network(cluster):
    """The network to the test cluster: `network.cut()`, `network.restore()` (see Network);
    restored after the test if the test left it cut.
    """
    net = Network()
    yield net
    if net.is_cut:
        net.restore()
