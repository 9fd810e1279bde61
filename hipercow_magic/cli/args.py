"""The ONE argument layer: parsers and converters shared by the `hipercow` command line and the
`%hipercow` / `%%hipercow` magics, so both take the same options with the same spellings.
"""

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
from hipercow_magic.core.provision import METHODS


def add_environment_parser(subparsers) -> argparse.ArgumentParser:
    """Register `environment {list,show,create,delete,exists}` on an argparse subparsers."""
    p = subparsers.add_parser("environment", help="create, list, show and delete environments")
    p.add_argument("action", choices=["list", "show", "create", "delete", "exists"])
    p.add_argument("name", nargs="?", default="default")
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
    """Drop quotes that a magic's argument splitting keeps ('"numpy as np"')."""
    if values is None:
        return None
    return [v[1:-1] if len(v) > 1 and v[0] == v[-1] and v[0] in "'\"" else v for v in values]


def environment_command(args) -> object:
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


def add_provision_parser(subparsers) -> argparse.ArgumentParser:
    """Register `provision [run|list|check|compare]` on an argparse subparsers."""
    p = subparsers.add_parser("provision", help="install packages for an environment's tasks")
    p.add_argument("action", nargs="?", default="run", choices=["run", "list", "check", "compare"])
    p.add_argument("--method", choices=METHODS)
    p.add_argument("--environment", default="default")
    p.add_argument(
        "--requirements",
        nargs="+",
        metavar="REQ",
        help="pip: requirement strings (instead of requirements.txt)",
    )
    p.add_argument("--file", help="pip: a requirements file or pyproject.toml in the root")
    p.add_argument("--script", help="script: the shell script to run (default provision.sh)")
    p.add_argument("--driver")
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


def provision_command(args) -> object:
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
