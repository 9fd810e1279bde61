"""Remote roots (a cluster reached over SSH), as users call them: install hipercow-magic on
the remote side, open and close the root's connection, and say how it stands.
"""

from __future__ import annotations

import cloudpickle

from hipercow_magic._version import __version__
from hipercow_magic.core.errors import HipercowError
from hipercow_magic.core.root import find_root
from hipercow_magic.core.versions import python_version
from hipercow_magic.drivers.registry import require_driver
from hipercow_magic.drivers.remote import (
    connect,
    describe,
    disconnect,
    install_remote,
    remote_config,
)

_CONFIGURE_REMOTE = (
    "Configure one with hipercow_configure('slurm', ssh='mycluster', "
    "remote_root='~/projects/flu'), or in a terminal: "
    "hipercow configure slurm --ssh mycluster --remote-root '~/projects/flu'"
)


def remote_driver(root, driver: str | None = None) -> str:
    """The name of the root's driver that reaches a cluster over SSH: `driver` when given
    (it must be configured, and remote), else the one configured driver that is remote.

    Raises:
        HipercowError: no configured driver is remote, several are and `driver` was not
            given (the message lists them), or `driver` is not remote.
    """
    if driver is not None:
        name = require_driver(root, driver)
        if remote_config(root, name) is None:
            raise HipercowError(
                f"The driver '{name}' of this root does not reach a cluster over SSH\n"
                + _CONFIGURE_REMOTE
            )
        return name
    remote = [n for n in root.configured_drivers() if remote_config(root, n) is not None]
    if not remote:
        raise HipercowError(
            "No driver of this root reaches a cluster over SSH\n" + _CONFIGURE_REMOTE
        )
    if len(remote) > 1:
        raise HipercowError(
            "Several drivers of this root reach a cluster over SSH: "
            f"{', '.join(repr(n) for n in remote)}\n"
            f"Say which with driver= (or --driver), e.g. driver='{remote[0]}'."
        )
    return remote[0]


def hipercow_remote_install(
    ssh: str, remote_root: str, ssh_config: str | None = None, python: str | None = None
) -> None:
    """Install this version of hipercow-magic (and its dependencies) into a virtual
    environment inside the remote root, `<remote_root>/hipercow/remote/venv`, so the remote
    side runs the same hipercow-magic, Python major.minor and cloudpickle as this machine.
    Run it before `hipercow_init(..., ssh=..., remote_root=...)` when the cluster has no
    matching installation (configuring says so).

    Args:
        ssh: the destination, as `ssh` takes it: an alias from `~/.ssh/config` (with its
            ProxyJump, User, Port and IdentityFile) or `user@host`.
        remote_root: the folder on the remote side that holds the remote copy of the root
            (`~` is the remote home); created if needed.
        ssh_config: an ssh configuration file to use instead of `~/.ssh/config` (`ssh -F`).
        python: the remote Python to make the environment with (default: `python3` there).

    Raises:
        HipercowError: the cluster can't be reached, refuses the login, or the installation
            failed (the message says why).
    """
    print(install_remote(ssh, remote_root, ssh_config=ssh_config, python=python))


def hipercow_remote_connect(driver: str | None = None, root=None) -> None:
    """Open the root's connection to the cluster now, prompting on this terminal for what
    the login asks (a password, a one-time code). The connection then serves every operation
    (no more prompts) until it has been idle for 10 minutes or is closed.

    Args:
        driver: the remote driver (default: the root's one driver configured over SSH).
        root: the hipercow root (default: found from the working directory).

    Raises:
        HipercowError: no driver is remote (or several, and `driver` was not given), or the
            login failed (ssh's own words).
    """
    root = find_root(root)
    print(connect(root, remote_driver(root, driver)))


def hipercow_remote_disconnect(driver: str | None = None, root=None) -> None:
    """Close the root's connection to the cluster (the next operation opens it again, which
    may ask for a login again). Tasks on the cluster carry on.

    Args:
        driver: the remote driver (default: the root's one driver configured over SSH).
        root: the hipercow root (default: found from the working directory).

    Raises:
        HipercowError: no driver is remote (or several, and `driver` was not given).
    """
    root = find_root(root)
    print(disconnect(root, remote_driver(root, driver)))


def hipercow_remote_status(driver: str | None = None, root=None, show: bool = True) -> dict:
    """How the root's remote side stands: where it is, whether the connection is open, and
    the remote versions of Python, hipercow-magic and cloudpickle (when it can be reached).

    Args:
        driver: the remote driver (default: the root's one driver configured over SSH).
        root: the hipercow root (default: found from the working directory).
        show: print it.

    Returns:
        A dict: driver, ssh, remote_root, remote_python, connected (bool), versions (python,
        hipercow_magic, cloudpickle on the remote side, or None when not known) and problem
        (what is wrong, or None).

    Raises:
        HipercowError: no driver is remote (or several, and `driver` was not given).
    """
    root = find_root(root)
    name = remote_driver(root, driver)
    info = {"driver": name, **describe(root, name)}
    if show:
        print("\n".join(status_lines(info)))
    return info


def status_lines(info: dict) -> list[str]:
    """The lines `hipercow_remote_status()` prints for what it found."""
    lines = [
        f"── remote root of driver '{info['driver']}' ──",
        f"  • ssh: {info['ssh']}",
        f"  • remote root: {info['remote_root']}",
        f"  • remote python: {info['remote_python']}",
        f"  • connection: {'open' if info['connected'] else 'not open'}",
    ]
    versions = info.get("versions")
    if versions:
        here = {
            "python": python_version(),
            "hipercow_magic": __version__,
            "cloudpickle": cloudpickle.__version__,
        }
        for key, mine in here.items():
            there = versions.get(key)
            same = _comparable(key, there) == _comparable(key, mine)
            lines.append(f"  • {key} there: {there}" + ("" if same else f" (here: {mine})"))
    if info.get("problem"):
        lines.append(f"! {info['problem']}")
    return lines


def _comparable(key: str, version: str | None) -> str | None:
    """The part of a version that must match on both sides, as configuring checks it:
    major.minor of Python and cloudpickle, all of hipercow-magic's.
    """
    if version is None or key == "hipercow_magic":
        return version
    return ".".join(str(version).split(".")[:2])
