"""Remote roots: the SSH options of `init` and `configure`, and the `remote` command
(install, connect, disconnect, status) with running it.
"""

from __future__ import annotations

import argparse

from hipercow_magic.api.remote import (
    hipercow_remote_connect,
    hipercow_remote_disconnect,
    hipercow_remote_install,
    hipercow_remote_status,
)
from hipercow_magic.cli.args.common import command
from hipercow_magic.core.errors import HipercowError

# flag -> the option of hipercow_init / hipercow_configure it becomes
SSH_OPTIONS = {
    "--ssh": "ssh",
    "--remote-root": "remote_root",
    "--remote-python": "remote_python",
    "--ssh-config": "ssh_config",
}


def add_ssh_options(parser: argparse.ArgumentParser, install: bool = False) -> None:
    """Declare `--ssh DEST --remote-root PATH [--remote-python PY] [--ssh-config FILE]`:
    where a remote root's cluster is and how to reach it (for `init` and `configure`; for
    `remote install`, with `--ssh` and `--remote-root` required).
    """
    group = parser.add_argument_group("a cluster reached over SSH")
    group.add_argument(
        "--ssh",
        metavar="DEST",
        required=install,
        help="reach the cluster with ssh: an alias from ~/.ssh/config (its ProxyJump, User, "
        "Port, IdentityFile apply) or user@host",
    )
    group.add_argument(
        "--remote-root",
        metavar="PATH",
        required=install,
        help="the root's folder on the cluster ('~/...' is the cluster's home: quote it in "
        "a shell)",
    )
    group.add_argument(
        "--remote-python",
        metavar="PY",
        help="the Python on the cluster to make the environment with (default: python3)"
        if install
        else "the Python on the cluster (default: the environment 'hipercow remote install' "
        "made in the remote root, else python3)",
    )
    group.add_argument(
        "--ssh-config",
        metavar="FILE",
        help="an ssh configuration file to use instead of ~/.ssh/config",
    )


def ssh_options(args: argparse.Namespace, options: dict | None = None) -> dict:
    """The SSH options of parsed arguments added to `options` (a driver's other options,
    which may hold them as KEY=VALUE too).

    Raises:
        HipercowError: `--ssh` without `--remote-root` or the reverse, or `--remote-python`
            or `--ssh-config` without them.
    """
    out = dict(options or {})
    for flag, key in SSH_OPTIONS.items():
        value = getattr(args, key, None)
        if value is None:
            continue
        if key in out and out[key] != value:
            raise HipercowError(f"{key} is given twice: '{out[key]}' and {flag} '{value}'")
        out[key] = value
    given = [flag for flag, key in SSH_OPTIONS.items() if key in out]
    missing = [
        f"{f} {m}" for f, m in (("--ssh", "DEST"), ("--remote-root", "PATH")) if f not in given
    ]
    if given and missing:
        raise HipercowError(
            f"{' and '.join(given)} also need{'s' if len(given) == 1 else ''} "
            f"{' and '.join(missing)}: "
            "a remote root is reached with --ssh DEST (where the cluster is) and lives in "
            "--remote-root PATH (its folder there), e.g. "
            "--ssh mycluster --remote-root '~/projects/flu'"
        )
    return out


# ---- the `remote` command ------------------------------------------------------------------
def add_remote_parser(subparsers) -> argparse.ArgumentParser:
    """Register `remote {install,connect,disconnect,status}` on an argparse subparsers."""
    p = command(
        subparsers, "remote", "set up and look at the connection to a cluster reached over SSH"
    )
    actions = p.add_subparsers(dest="action", metavar="ACTION", required=True)
    install = command(
        actions,
        "install",
        "install this version of hipercow-magic in a virtual environment in the remote root",
    )
    add_ssh_options(install, install=True)
    for name, text in (
        ("connect", "open the root's connection now, asking for a login here (MFA)"),
        ("disconnect", "close the root's connection (tasks carry on)"),
        ("status", "where the remote root is, its connection and its versions"),
    ):
        q = command(actions, name, text)
        q.add_argument(
            "--driver", metavar="NAME", help="the remote driver (default: the one over SSH)"
        )
    p.set_defaults(func=remote_command)
    return p


def remote_command(args: argparse.Namespace) -> None:
    """Run a parsed `remote ...` command (see add_remote_parser)."""
    if args.action == "install":
        hipercow_remote_install(
            args.ssh, args.remote_root, ssh_config=args.ssh_config, python=args.remote_python
        )
    elif args.action == "connect":
        hipercow_remote_connect(driver=args.driver)
    elif args.action == "disconnect":
        hipercow_remote_disconnect(driver=args.driver)
    else:
        hipercow_remote_status(driver=args.driver)
