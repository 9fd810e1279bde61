"""The SSH transport of remote roots: shell commands run on the cluster over one OpenSSH
ControlMaster connection per root, with the system's `ssh` client, so whatever works in the
user's terminal (aliases in ~/.ssh/config, ProxyJump, keys, ssh-agent) works here too.

The master is opened on demand (one authentication), kept 10 minutes after its last use, and
opened again by the next command when it died. ssh's failures become errors a user can act on:
RemoteUnreachable (the network, the cluster's sshd), a HipercowError for an unknown host, a
refused login or a host key that does not match (ssh's own words passed on), and
RemoteCommandFailed when the remote command itself fails.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import stat
import subprocess
import threading
from contextlib import contextmanager, suppress

from hipercow_magic.core.errors import HipercowError

CONTROL_PERSIST = "10m"  # how long an unused master connection stays open
CONNECT_TIMEOUT = 10  # seconds for the TCP connection and ssh's banner
OPEN_TIMEOUT = 60  # seconds to connect and log in without a terminal
CHECK_TIMEOUT = 10  # seconds for `ssh -O check` / `ssh -O exit`
MAX_SESSIONS = 8  # commands at once over one master (sshd's MaxSessions is 10 by default)
SOCKET_PATH_MAX = 90  # ssh first binds "<ControlPath>.<16 characters>"; a socket path: 107 bytes

# ssh's words (exit code 255) for each kind of failure, in the order they are looked for.
_HOST_KEY = ("REMOTE HOST IDENTIFICATION HAS CHANGED", "Host key verification failed")
_LOGIN = ("Permission denied", "Too many authentication failures")
_NO_DNS = ("Temporary failure in name resolution",)  # the network, not the name
_UNKNOWN_HOST = ("Could not resolve hostname",)
_UNREACHABLE = (
    "Connection refused",
    "timed out",
    "Connection closed",
    "closed by remote host",
    "Broken pipe",
    "Connection reset",
    "No route to host",
    "Network is unreachable",
    "kex_exchange_identification",
    "lost connection",
    "not responding",
)


class RemoteUnreachable(HipercowError):
    """The cluster can't be reached now (network down, sshd gone, connection cut)."""


class RemoteCommandFailed(HipercowError):
    """The remote command ran and exited non-zero; `.returncode` and `.stderr` (text) say how."""

    def __init__(self, destination: str, returncode: int, stderr: str):
        said = "\n".join(stderr.strip().splitlines()[-5:])
        super().__init__(
            f"The command on {destination} failed (exit code {returncode})"
            + (f":\n{said}" if said else "")
        )
        self.returncode = returncode
        self.stderr = stderr


class SshConnection:
    """Commands on `destination` (anything `ssh` accepts: an alias of ~/.ssh/config, user@host)
    over one master connection; `control_key` names the root using it (one master per root
    and destination); `ssh_config` is passed as `ssh -F FILE` (then ~/.ssh/config is not read).
    """

    def __init__(self, destination: str, control_key: str, ssh_config: str | None = None):
        if not destination or destination.startswith("-") or len(destination.split()) != 1:
            raise HipercowError(
                f"{destination!r} is not an SSH destination: give a host alias from "
                "~/.ssh/config, a host name, or user@host"
            )
        self.destination = destination
        self.ssh_config = os.path.expanduser(ssh_config) if ssh_config else None
        digest = hashlib.sha256(f"{destination}\0{control_key}\0{ssh_config}".encode())
        self.control_path = os.path.join(_control_folder(), digest.hexdigest()[:12])

    def run(self, command: str, input: bytes = b"", timeout: float | None = None) -> bytes:
        """Run the shell command line `command` on the remote side with `input` on its
        standard input; its standard output. The master connection is opened first when
        there is none (or it died).

        Raises:
            RemoteUnreachable: the cluster can't be reached, or the connection was lost
                (also when the command did not end within `timeout` seconds).
            HipercowError: unknown host, login refused, host key not verified.
            RemoteCommandFailed: the command exited non-zero.
        """
        with _session_slot(self.control_path):
            if not os.path.exists(self.control_path):
                self.open()
            args = self._ssh("-T", "-o", "ControlMaster=auto", "--", self.destination, command)
            proc = self._call(args, input, timeout)
        if proc.returncode == 0:
            return proc.stdout
        stderr = _text(proc.stderr)
        if proc.returncode == 255:
            problem = self._ssh_problem(stderr)
            if problem is not None:
                raise problem
            if not self.is_open():  # ssh failed, not the command
                raise RemoteUnreachable(
                    f"Lost the connection to {self.destination}"
                    + (f": {_one_line(stderr)}" if stderr.strip() else "")
                )
        raise RemoteCommandFailed(self.destination, proc.returncode, stderr)

    def open(self, interactive: bool = False) -> None:
        """Open the master connection now (nothing to do when it is open). `interactive`:
        ssh may prompt on the terminal (a password, a passphrase, an MFA code).

        Raises:
            RemoteUnreachable, HipercowError: as for run().
        """
        args = self._ssh("-o", "ControlMaster=auto", "-N", "-f", "--", self.destination)
        with _master_lock(self.control_path):
            if self.is_open():  # another thread or process just opened it
                return
            with suppress(FileNotFoundError):  # the socket of a master that died
                os.unlink(self.control_path)
            if interactive:
                args[args.index("-oBatchMode=yes")] = "-oBatchMode=no"
                if _on_terminal(args) != 0:
                    raise HipercowError(
                        f"Could not connect to {self.destination} (ssh's messages are above); "
                        f"`ssh {self.destination}` in a terminal shows what is wrong"
                    )
                return
            proc = self._call(args, None, OPEN_TIMEOUT)
        if proc.returncode != 0:
            stderr = _text(proc.stderr)
            raise self._ssh_problem(stderr) or RemoteUnreachable(
                f"Could not connect to {self.destination}: "
                f"{_one_line(stderr) or f'ssh exit code {proc.returncode}'}"
            )

    def is_open(self) -> bool:
        """Whether the master connection is up (`ssh -O check`)."""
        if not os.path.exists(self.control_path):
            return False
        try:
            return self._control("check").returncode == 0
        except RemoteUnreachable:  # a master that does not answer is as good as none
            return False

    def close(self) -> None:
        """Close the master connection (`ssh -O exit`); nothing to do when there is none."""
        if os.path.exists(self.control_path):
            self._control("exit")

    # ------------------------------------------------------------------ internals

    def _ssh(self, *args: str) -> list[str]:
        """The ssh command line with this connection's options, then `args`."""
        config = []
        if self.ssh_config:
            if not os.path.isfile(self.ssh_config):
                raise HipercowError(
                    f"The ssh_config file {self.ssh_config} does not exist: give the file "
                    "ssh should read instead of ~/.ssh/config, or none"
                )
            config = ["-F", self.ssh_config]
        options = {
            "ControlPath": self.control_path,
            "ControlPersist": CONTROL_PERSIST,
            "ServerAliveInterval": "15",
            "ServerAliveCountMax": "3",
            "ConnectTimeout": str(CONNECT_TIMEOUT),
            "BatchMode": "yes",
        }
        return ["ssh", *config, *(f"-o{k}={v}" for k, v in options.items()), *args]

    def _call(self, args: list[str], input: bytes | None, timeout: float | None):
        """The ssh command `args` run with `input`, its output captured."""
        try:
            return subprocess.run(
                args,
                input=input,
                stdin=None if input is not None else subprocess.DEVNULL,
                capture_output=True,
                timeout=timeout,
                check=False,
            )
        except FileNotFoundError:
            raise _no_ssh() from None
        except subprocess.TimeoutExpired:
            raise RemoteUnreachable(
                f"No answer from {self.destination} within {timeout:g} s: the connection "
                "may be down; check your network connection (and VPN) and try again"
            ) from None

    def _control(self, request: str):
        """`ssh -O request` sent to the master."""
        args = self._ssh("-O", request, "--", self.destination)
        return self._call(args, None, CHECK_TIMEOUT)

    def _ssh_problem(self, stderr: str) -> HipercowError | None:
        """The error for what ssh said when it failed (exit code 255); None when it said
        nothing known (then the remote command may have exited 255 itself).
        """
        dest = self.destination
        if _said(stderr, _HOST_KEY):
            return HipercowError(
                f"SSH refused to connect to {dest}: its host key could not be verified.\n"
                f"{stderr.strip()}\n"
                f"If the key is new to you, run `ssh {dest}` once in a terminal to check and "
                "accept it; if the cluster's key really changed (its administrators say so), "
                "remove the old one with `ssh-keygen -R HOST` first."
            )
        if _said(stderr, _LOGIN):
            return HipercowError(
                f"{dest} refused the login ({_said(stderr, _LOGIN)}). `ssh {dest}` must log "
                "in from a terminal without asking anything: set IdentityFile in ~/.ssh/config "
                "or add your key to ssh-agent (ssh-add), and put its public key in the "
                "cluster's ~/.ssh/authorized_keys; if the cluster asks for a password or a "
                "code, connect interactively first."
            )
        if _said(stderr, _NO_DNS):
            return RemoteUnreachable(
                f"Can't reach {dest}: {_said(stderr, _NO_DNS)} (is the network down?)"
            )
        if _said(stderr, _UNKNOWN_HOST):
            where = self.ssh_config or "~/.ssh/config"
            return HipercowError(
                f"SSH does not know the host {dest!r} ({_said(stderr, _UNKNOWN_HOST)}): give "
                f"a 'Host {dest}' alias defined in {where}, or a host name that exists"
            )
        if _said(stderr, _UNREACHABLE):
            return RemoteUnreachable(
                f"Can't reach {dest} now ({_said(stderr, _UNREACHABLE)}); check your network "
                "connection (and VPN) and that the cluster is up, then try again"
            )
        return None


def _control_folder() -> str:
    """A private (0700) folder of this user's for the control sockets, with a path short
    enough for a socket: under $XDG_RUNTIME_DIR, else /tmp/hipercow-ssh-<uid>.
    """
    runtime = os.environ.get("XDG_RUNTIME_DIR")
    folder = os.path.join(runtime, "hipercow-ssh") if runtime else ""
    if not folder or len(folder) + 13 > SOCKET_PATH_MAX or not os.path.isdir(runtime):
        folder = f"/tmp/hipercow-ssh-{os.getuid()}"
    try:
        os.mkdir(folder, 0o700)
    except FileExistsError:
        pass
    info = os.lstat(folder)
    if not stat.S_ISDIR(info.st_mode) or info.st_uid != os.getuid():
        raise HipercowError(
            f"{folder} is not a folder of yours; remove it so that hipercow can keep its SSH "
            "connections there"
        )
    if stat.S_IMODE(info.st_mode) != 0o700:
        os.chmod(folder, 0o700)
    return folder


_slots: dict[str, threading.BoundedSemaphore] = {}
_locks: dict[str, threading.Lock] = {}
_registry_lock = threading.Lock()


@contextmanager
def _session_slot(control_path: str):
    """One of MAX_SESSIONS places for a command over the master at `control_path`."""
    with _registry_lock:
        slot = _slots.setdefault(control_path, threading.BoundedSemaphore(MAX_SESSIONS))
    with slot:
        yield


@contextmanager
def _master_lock(control_path: str):
    """The right to open the master at `control_path`, among this process's threads and
    other processes (a lock file next to the socket).
    """
    with _registry_lock:
        lock = _locks.setdefault(control_path, threading.Lock())
    with lock, open(control_path + ".lock", "w") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        yield


def _on_terminal(args: list[str]) -> int:
    """The exit code of ssh run on this process's terminal (where it may prompt)."""
    try:
        return subprocess.run(args, check=False).returncode
    except FileNotFoundError:
        raise _no_ssh() from None


def _text(stderr: bytes) -> str:
    """What ssh wrote on its standard error, as text."""
    return stderr.decode(errors="replace").replace("\r", "")


def _said(stderr: str, words: tuple[str, ...]) -> str:
    """The first line of `stderr` holding one of `words` (empty if none does)."""
    for line in stderr.splitlines():
        if any(w in line for w in words):
            return line.strip()
    return ""


def _one_line(text: str) -> str:
    """Text's non-empty lines joined in one line."""
    return " ".join(line.strip() for line in text.splitlines() if line.strip())


def _no_ssh() -> HipercowError:
    """The error for a machine without the OpenSSH client."""
    return HipercowError(
        "The OpenSSH client `ssh` was not found: install it (e.g. `apt install "
        "openssh-client`) to reach a cluster over SSH"
    )
