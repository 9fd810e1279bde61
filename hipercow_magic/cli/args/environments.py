"""The `environment` and `provision` commands: their parsers, and running them."""

from __future__ import annotations

import argparse

from hipercow_magic.api.environments import (
    hipercow_environment_create,
    hipercow_environment_delete,
    hipercow_environment_exists,
    hipercow_environment_list,
    hipercow_environment_show,
)
from hipercow_magic.api.provision import (
    hipercow_provision,
    hipercow_provision_check,
    hipercow_provision_compare,
    hipercow_provision_list,
)
from hipercow_magic.cli.args.common import command
from hipercow_magic.core.provision import METHODS


# ---- environments ------------------------------------------------------------------------
def add_environment_parser(subparsers) -> argparse.ArgumentParser:
    """Register `environment {list,show,create,delete,exists}` on an argparse subparsers."""
    p = command(subparsers, "environment", "create, list, show and delete environments")
    p.add_argument(
        "action",
        choices=["list", "show", "create", "delete", "exists"],
        help="what to do",
    )
    p.add_argument("name", nargs="?", default="default", help="the environment (default: default)")
    p.add_argument(
        "--packages",
        nargs="+",
        metavar="MODULE",
        help="create: modules to import ('numpy', 'numpy as np')",
    )
    p.add_argument(
        "--sources",
        nargs="+",
        metavar="FILE",
        help="create: files (relative to the root) to run, in order",
    )
    p.add_argument(
        "--globals",
        nargs="+",
        metavar="NAME",
        dest="globals_",
        help="create: names the sources define, or 'auto' to discover them",
    )
    p.add_argument(
        "--no-overwrite", action="store_true", help="create: fail if the environment exists"
    )
    p.add_argument("--no-check", action="store_true", help="create: don't check the sources")
    p.set_defaults(func=environment_command)
    return p


def unquote(values: list[str] | None) -> list[str] | None:
    """Drop one pair of quotes around each value ('"numpy as np"' is `numpy as np`)."""
    if values is None:
        return None
    return [v[1:-1] if len(v) > 1 and v[0] == v[-1] and v[0] in "'\"" else v for v in values]


def environment_command(args: argparse.Namespace) -> object:
    """Run a parsed `environment ...` command (see add_environment_parser)."""
    if args.action == "list":
        names = hipercow_environment_list()
        for name in names:
            print(name)
        return names
    if args.action == "show":
        return hipercow_environment_show(args.name)
    if args.action == "exists":
        found = hipercow_environment_exists(args.name)
        print("yes" if found else "no")
        return found
    if args.action == "delete":
        return hipercow_environment_delete(args.name)
    globals_ = unquote(args.globals_)
    if globals_ == ["auto"]:
        globals_ = True
    return hipercow_environment_create(
        args.name,
        packages=unquote(args.packages),
        sources=unquote(args.sources),
        globals=globals_,
        overwrite=not args.no_overwrite,
        check=not args.no_check,
    )


def environment_cli(argv: list[str]) -> object:
    """Parse and run `environment ...` arguments (for front ends without their own parser)."""
    top = argparse.ArgumentParser(prog="hipercow", add_help=False)
    sub = top.add_subparsers(dest="command", required=True)
    add_environment_parser(sub)
    args = top.parse_args(["environment", *argv])
    return environment_command(args)


# ---- provisioning ------------------------------------------------------------------------
def add_provision_parser(subparsers) -> argparse.ArgumentParser:
    """Register `provision [run|list|check|compare]` on an argparse subparsers."""
    p = command(subparsers, "provision", "install packages for an environment's tasks")
    p.add_argument(
        "action",
        nargs="?",
        default="run",
        choices=["run", "list", "check", "compare"],
        help="run an installation (default), list past ones, check what would run, or compare two",
    )
    p.add_argument(
        "--method",
        choices=METHODS,
        help="how to install (default: picked from --requirements/--file/--script and the "
        "root's requirements.txt, pyproject.toml or provision.sh)",
    )
    p.add_argument(
        "--environment", metavar="NAME", default="default", help="the environment to install for"
    )
    p.add_argument(
        "--requirements",
        nargs="+",
        metavar="REQ",
        help="pip: requirement strings (instead of requirements.txt)",
    )
    p.add_argument(
        "--file", metavar="FILE", help="pip: a requirements file or pyproject.toml in the root"
    )
    p.add_argument(
        "--script", metavar="FILE", help="script: the shell script to run (default provision.sh)"
    )
    p.add_argument("--driver", metavar="NAME", help="driver to run the installation with")
    p.add_argument(
        "--force",
        action="store_true",
        help="run even if tasks of the environment are queued or running",
    )
    p.add_argument("--curr", default="0", help="compare: the newer installation (0 = latest)")
    p.add_argument("--prev", default="-1", help="compare: the older one ('none' = nothing)")
    p.set_defaults(func=provision_command)
    return p


def _which(text: str):
    if text.lower() in ("none", "null", "-inf"):
        return None
    try:
        return int(text)
    except ValueError:
        return text


def provision_command(args: argparse.Namespace) -> object:
    """Run a parsed `provision ...` command (see add_provision_parser)."""
    if args.action == "list":
        return hipercow_provision_list(args.environment)
    if args.action == "compare":
        return hipercow_provision_compare(
            _which(args.curr), _which(args.prev), environment=args.environment
        )
    options = {"requirements": unquote(args.requirements)}
    options.update(
        (k, unquote([v])[0]) for k, v in (("file", args.file), ("script", args.script)) if v
    )
    options = {k: v for k, v in options.items() if v is not None}
    if args.action == "check":
        return hipercow_provision_check(args.method, args.environment, **options)
    return hipercow_provision(
        args.method,
        args.environment,
        driver=args.driver,
        check_running_tasks=not args.force,
        **options,
    )


def provision_cli(argv: list[str]) -> object:
    """Parse and run `provision ...` arguments (for front ends without their own parser)."""
    top = argparse.ArgumentParser(prog="hipercow", add_help=False)
    sub = top.add_subparsers(dest="command", required=True)
    add_provision_parser(sub)
    return provision_command(top.parse_args(["provision", *argv]))
