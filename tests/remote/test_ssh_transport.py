"""The SSH transport (drivers/remote/ssh.py) against the real sshd of the test cluster: commands
and their data, one login for many commands, a master connection that died, and each way
reaching the cluster can fail, as the user is told about it.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import uuid
from concurrent.futures import ThreadPoolExecutor

import psutil
import pytest

from hipercow_magic.core.errors import HipercowError
from hipercow_magic.drivers.remote.ssh import RemoteCommandFailed, RemoteUnreachable, SshConnection


def _new_key(path) -> str:
    """A new ed25519 key pair at `path` (the private key's path)."""
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(path)], check=True)
    return str(path)


def _kill(pid: int) -> None:
    """Kill a process (not a child of this one) and wait until it is gone."""
    proc = psutil.Process(pid)
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=10)


def test_command_output_and_input_round_trip(connection):
    assert connection.run("whoami; python3 -c 'import hipercow_magic; print(\"ok\")'") == (
        b"hpc\nok\n"
    )
    data = os.urandom(3_000_000)
    assert connection.run("cat", data) == data


def test_many_commands_cost_one_login(connection, sshd_log):
    # the first commands all at once, more than sshd lets run over one connection
    with ThreadPoolExecutor(12) as pool:
        outputs = list(pool.map(lambda i: connection.run(f"echo {i}"), range(24)))
    assert outputs == [f"{i}\n".encode() for i in range(24)]
    for i in range(10):
        assert connection.run("cat", str(i).encode()) == str(i).encode()
    assert connection.is_open()
    assert sshd_log.commands(connection) == 34  # all over the master connection
    assert sshd_log.authentications(connection) == 1


@pytest.mark.parametrize("how", ["killed", "closed"])
def test_a_master_that_ended_is_opened_again(connection, sshd_log, master_pid, how):
    connection.run("true")
    first = master_pid(connection)
    if how == "killed":  # its control socket is left behind
        _kill(first)
    else:
        connection.close()
    assert not connection.is_open()
    assert connection.run("echo again") == b"again\n"
    assert connection.is_open()
    assert connection.run("echo and again") == b"and again\n"
    assert master_pid(connection) not in (None, first)
    assert sshd_log.commands(connection) == 2


def test_open_opens_the_master_once_and_again_after_it_died(connection, master_pid):
    connection.open()
    first = master_pid(connection)
    connection.open()
    assert master_pid(connection) == first
    _kill(first)
    connection.open()
    assert master_pid(connection) not in (None, first)


def test_an_unknown_host_is_named(cluster):
    conn = SshConnection("hipercow-no-such-cluster", "test")
    with pytest.raises(
        HipercowError, match="does not know the host 'hipercow-no-such-cluster'"
    ) as e:
        conn.run("true")
    assert not isinstance(e.value, RemoteUnreachable)
    assert "Could not resolve hostname" in str(e.value)


def test_a_key_the_cluster_does_not_know_is_refused(cluster_config, tmp_path):
    config = cluster_config("wrong-key", IdentityFile=_new_key(tmp_path / "other_key"))
    conn = SshConnection("wrong-key", "test", ssh_config=config)
    with pytest.raises(HipercowError, match=r"wrong-key refused the login") as e:
        conn.run("true")
    assert not isinstance(e.value, RemoteUnreachable)
    assert "Permission denied (publickey)" in str(e.value)
    assert "IdentityFile" in str(e.value)


def test_a_changed_host_key_is_refused_in_ssh_s_words(cluster_config, tmp_path):
    other = _new_key(tmp_path / "other_host_key")
    known_hosts = tmp_path / "known_hosts"
    known_hosts.write_text("[127.0.0.1]:2222 " + open(other + ".pub").read())
    config = cluster_config("changed-key", UserKnownHostsFile=known_hosts)
    conn = SshConnection("changed-key", "test", ssh_config=config)
    with pytest.raises(HipercowError, match="host key could not be verified") as e:
        conn.run("true")
    assert not isinstance(e.value, RemoteUnreachable)
    assert "REMOTE HOST IDENTIFICATION HAS CHANGED" in str(e.value)
    assert "Host key verification failed" in str(e.value)
    assert not conn.is_open()


def test_a_port_nobody_listens_on_is_unreachable(cluster_config):
    with socket.socket() as s:  # a port free now, so closed
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    config = cluster_config("closed-port", Port=port)
    with pytest.raises(RemoteUnreachable, match="Can't reach closed-port now.*Connection refused"):
        SshConnection("closed-port", "test", ssh_config=config).run("true")


def test_a_missing_ssh_config_file_is_named(tmp_path):
    missing = tmp_path / "no_such_config"
    conn = SshConnection("hipercow-cluster", "test", ssh_config=str(missing))
    with pytest.raises(HipercowError, match=f"The ssh_config file {missing} does not exist"):
        conn.run("true")


@pytest.mark.parametrize("code", [3, 255])
def test_a_failing_command_gives_its_exit_code_and_stderr(connection, code):
    with pytest.raises(RemoteCommandFailed, match=f"failed \\(exit code {code}\\)") as e:
        connection.run(f"echo some output; echo what went wrong >&2; exit {code}")
    assert e.value.returncode == code
    assert e.value.stderr == "what went wrong\n"


def test_a_cut_network_is_unreachable_until_restored(connection, network, sshd_log):
    assert connection.run("echo before") == b"before\n"
    network.cut()
    with pytest.raises(RemoteUnreachable):
        connection.run("echo during")
    network.restore()
    assert connection.run("echo after") == b"after\n"
    assert sshd_log.authentications(connection) == 1


def test_control_sockets_are_private_and_short(cluster):
    conn = SshConnection(cluster, f"test-{uuid.uuid4().hex}" * 20)
    folder = os.path.dirname(conn.control_path)
    assert os.stat(folder).st_mode & 0o777 == 0o700
    assert len(conn.control_path) < 90
