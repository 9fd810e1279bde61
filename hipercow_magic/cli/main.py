"""The `hipercow` parser, built from the shared argument layer, and `main`."""

from __future__ import annotations

import argparse
import os
import sys

from hipercow_magic.cli import commands
from hipercow_magic.cli.args import add_root_commands, add_task_commands, add_task_options
from hipercow_magic.cli.bundles import add_bundle_commands
from hipercow_magic.core.errors import HipercowError

TASK_IDS_HELP = "task ids, or their first 4 or more characters (as every display shows them)"

_ROOT_HANDLERS = {
    "init": commands.cmd_init,
    "configure": commands.cmd_configure,
    "unconfigure": commands.cmd_unconfigure,
    "configuration": commands.cmd_configuration,
    "hello": commands.cmd_hello,
    "purge": commands.cmd_purge,
}


def parser() -> argparse.ArgumentParser:
    """The `hipercow` command's parser; each command's `func` runs it."""
    top = argparse.ArgumentParser(
        prog="hipercow",
        description="Send work to an HPC cluster (or this machine's virtual cluster) as tasks.",
    )
    top.add_argument(
        "--traceback",
        action="store_true",
        help="show the full traceback of errors (or set HIPERCOW_TRACEBACK=1)",
    )
    sub = top.add_subparsers(dest="command", metavar="COMMAND")
    top.set_defaults(func=None, commands=top)
    for name, p in add_root_commands(sub).items():
        if name in _ROOT_HANDLERS:  # environment and provision bring their own
            p.set_defaults(func=_ROOT_HANDLERS[name])

    p = sub.add_parser(
        "cluster-info",
        help="the configured cluster's nodes and queues",
        description="the configured cluster's nodes and queues",
    )
    p.add_argument("--driver", metavar="NAME", help="the driver whose cluster to show")
    p.set_defaults(func=commands.cmd_cluster_info)

    p = sub.add_parser(
        "create",
        help="create a task from code (or '-' for stdin) or a script",
        description="create a task from code (or '-' for stdin) or a script; prints its id",
    )
    p.add_argument("code", nargs="?", default=None, help="Python code, or '-' to read stdin")
    p.add_argument("--script", metavar="PATH", help="run this script (in the root) instead")
    p.add_argument("--chdir", action="store_true", help="run the script in its own directory")
    add_task_options(p)
    p.set_defaults(func=commands.cmd_create)

    p = sub.add_parser(
        "task", help="look at and act on tasks", description="look at and act on tasks"
    )
    tasks = p.add_subparsers(dest="action", metavar="ACTION")
    listing = add_task_commands(tasks, TASK_IDS_HELP)["list"]
    listing.add_argument(
        "--ids",
        action="store_true",
        dest="ids_only",
        help="print only the full ids, one a line (for scripts)",
    )
    p.set_defaults(func=commands.cmd_task, commands=p)

    p = sub.add_parser(
        "bundle", help="look at and act on bundles", description="look at and act on bundles"
    )
    add_bundle_commands(p.add_subparsers(dest="action", metavar="ACTION"))
    p.set_defaults(commands=p)
    return top


def main(argv: list[str] | None = None) -> int:
    """Run the `hipercow` command.

    Args:
        argv: the arguments (default: the process's own).

    Returns:
        The exit status: 0, 1 after an error the user can fix (printed as one line), 2
        for a usage mistake, 130 when interrupted (Ctrl-C), or 141 when whoever read the
        output stopped reading.
    """
    args = parser().parse_args(argv)
    if args.func is None or getattr(args, "action", "") is None:  # which command, then?
        args.commands.print_help(sys.stderr)
        return 2
    if args.command == "create" and args.code is None and args.script is None:
        print("Error: give code (or '-' to read it from stdin) or --script PATH", file=sys.stderr)
        return 2
    try:
        args.func(args)
        sys.stdout.flush()
    except BrokenPipeError:
        return _stdout_closed()
    except KeyboardInterrupt:
        print("Interrupted (tasks keep running: 'hipercow task list' shows them)", file=sys.stderr)
        return 128 + 2  # the shell's status for SIGINT
    except HipercowError as e:
        if args.traceback or os.environ.get("HIPERCOW_TRACEBACK"):
            raise
        print(f"Error: {e}", file=sys.stderr)
        return 1
    return 0


def _stdout_closed() -> int:
    """The reader of our output went away (`hipercow task list | head`): stop quietly, as a
    command killed by SIGPIPE does, without a traceback when Python flushes at exit.
    """
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    os.close(devnull)
    return 128 + 13  # the shell's status for SIGPIPE
