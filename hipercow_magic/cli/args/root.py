"""The commands on a root, the same in every front end: init, configure, unconfigure,
configuration, hello and purge (with environment and provision from `environments`, remote
from `remote`).
"""

from __future__ import annotations

import argparse

from hipercow_magic.cli.args.common import command, parse_pairs
from hipercow_magic.cli.args.environments import add_environment_parser, add_provision_parser
from hipercow_magic.cli.args.remote import add_remote_parser, add_ssh_options, ssh_options
from hipercow_magic.core.errors import HipercowError


def _add_option_flag(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--option",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="a driver option, e.g. idle_timeout=60 (repeatable)",
    )


def add_init_parser(subparsers) -> argparse.ArgumentParser:
    """Register `init [PATH] [--driver D] [--cluster NAME] [--option K=V ...]` and the
    options of a cluster reached over SSH (`--ssh DEST --remote-root PATH ...`).
    """
    p = command(subparsers, "init", "create a root here (or at PATH) and configure a driver")
    p.add_argument("path", nargs="?", default=".", help="where the root goes (default: here)")
    p.add_argument("--driver", metavar="NAME", help="configure this driver (local or slurm)")
    p.add_argument(
        "--cluster", metavar="NAME", help="the local driver's virtual cluster, e.g. example"
    )
    _add_option_flag(p)
    add_ssh_options(p)
    return p


def init_options(args: argparse.Namespace) -> dict:
    """The driver options of a parsed `init`: `--option` pairs, `--cluster` and the SSH
    options (as `ssh=`, `remote_root=`, `remote_python=`, `ssh_config=`).

    Raises:
        HipercowError: SSH options without a driver, or without both `--ssh` and
            `--remote-root`.
    """
    out = parse_pairs(args.option)
    if args.cluster:
        out["cluster"] = args.cluster
    out = ssh_options(args, out)
    if args.driver is None and "ssh" in out:
        raise HipercowError(
            "--ssh needs --driver: the driver that runs on the cluster, e.g. "
            "--driver slurm --ssh mycluster --remote-root '~/projects/flu'"
        )
    return out


def add_configure_parser(subparsers) -> argparse.ArgumentParser:
    """Register `configure DRIVER [K=V ...] [--option K=V ...]` (both spellings of options)
    and the options of a cluster reached over SSH (`--ssh DEST --remote-root PATH ...`).
    """
    p = command(subparsers, "configure", "configure a driver for this root")
    p.add_argument("driver", metavar="DRIVER", help="the driver (local or slurm)")
    p.add_argument(
        "pairs",
        nargs="*",
        metavar="KEY=VALUE",
        help="driver options, e.g. cluster=example idle_timeout=60 (or as --option KEY=VALUE)",
    )
    _add_option_flag(p)
    add_ssh_options(p)
    return p


def configure_options(args: argparse.Namespace) -> dict:
    """The driver options of a parsed `configure`: the KEY=VALUE words, `--option` pairs and
    the SSH options (as `ssh=`, `remote_root=`, `remote_python=`, `ssh_config=`).

    Raises:
        HipercowError: SSH options without both `--ssh` and `--remote-root`.
    """
    return ssh_options(args, parse_pairs([*args.pairs, *args.option]))


def add_unconfigure_parser(subparsers) -> argparse.ArgumentParser:
    """Register `unconfigure DRIVER`."""
    p = command(subparsers, "unconfigure", "remove a driver's configuration")
    p.add_argument("driver", metavar="DRIVER", help="the driver to remove")
    return p


def add_configuration_parser(subparsers) -> argparse.ArgumentParser:
    """Register `configuration`."""
    return command(subparsers, "configuration", "paths, versions, drivers, environments")


def add_hello_parser(subparsers) -> argparse.ArgumentParser:
    """Register `hello [--driver D] [--timeout S]`."""
    p = command(subparsers, "hello", "run a small test task")
    p.add_argument("--driver", metavar="NAME", help="driver to submit with")
    p.add_argument(
        "--timeout", type=float, default=60, metavar="S", help="seconds to wait (default 60)"
    )
    return p


def add_purge_parser(subparsers) -> argparse.ArgumentParser:
    """Register `purge [ID ...] [--status S] [--finished-before T] [--bundle B] [--dry-run]`."""
    p = command(subparsers, "purge", "delete finished tasks")
    p.add_argument("ids", nargs="*", metavar="ID", help="tasks to delete (ids or prefixes)")
    p.add_argument(
        "--status",
        action="append",
        default=[],
        metavar="STATUS",
        help="only tasks with this status: created or a finished one (repeatable)",
    )
    p.add_argument(
        "--finished-before",
        metavar="WHEN",
        help="only tasks that finished before this long ago, e.g. 1h, 2 days, 3 weeks",
    )
    p.add_argument("--bundle", metavar="GLOB", help="only tasks in bundles matching this glob")
    p.add_argument("--dry-run", action="store_true", help="say what would go, delete nothing")
    return p


def add_root_commands(subparsers) -> dict[str, argparse.ArgumentParser]:
    """Register the commands on a root, the same for every front end: init, configure,
    unconfigure, configuration, hello, purge, environment, provision and remote.

    Returns:
        The parser of each command, by name.
    """
    return {
        "init": add_init_parser(subparsers),
        "configure": add_configure_parser(subparsers),
        "unconfigure": add_unconfigure_parser(subparsers),
        "configuration": add_configuration_parser(subparsers),
        "hello": add_hello_parser(subparsers),
        "purge": add_purge_parser(subparsers),
        "environment": add_environment_parser(subparsers),
        "provision": add_provision_parser(subparsers),
        "remote": add_remote_parser(subparsers),
    }
