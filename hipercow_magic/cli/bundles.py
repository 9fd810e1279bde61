"""`hipercow bundle COMMAND`: create a bundle from a file of rows, list bundles, look at
their tasks by row, wait for them with a progress bar, and act on them.
"""

from __future__ import annotations

import argparse
import sys

from hipercow_magic import api
from hipercow_magic.cli.args import add_task_options, command, task_options
from hipercow_magic.cli.commands import note_text, print_value
from hipercow_magic.cli.progress import can_draw_progress, wait_with_progress
from hipercow_magic.cli.rows import read_rows
from hipercow_magic.cli.tables import counts_text, print_table
from hipercow_magic.core.errors import HipercowError
from hipercow_magic.core.format import pretty_dt, short_id
from hipercow_magic.engine.bundles import status_reduce

BUNDLE_COMMANDS = {
    "create": "one task per row of a CSV or JSON file, running the same code",
    "list": "the root's bundles with their tasks' states, newest first",
    "show": "a bundle's task ids, one a line",
    "status": "a bundle's tasks by row: state, node, times and error line",
    "wait": "wait for a bundle's tasks (a progress bar on a terminal)",
    "result": "each task's value, in order",
    "cancel": "cancel a bundle's queued and running tasks",
    "retry": "run a bundle's failed and cancelled tasks again",
    "logs": "each task's log",
    "delete": "delete a bundle (its tasks are kept)",
}


def add_bundle_commands(subparsers) -> None:
    """Register `hipercow bundle COMMAND` and each command's options."""
    for name, help in BUNDLE_COMMANDS.items():
        p = command(subparsers, name, help)
        if name not in ("list", "create"):
            p.add_argument("bundle", metavar="NAME", help="the bundle")
        p.set_defaults(func=_HANDLERS[name])
    p = subparsers.choices["create"]
    p.add_argument("bundle", nargs="?", metavar="NAME", help="the bundle's name (or --name)")
    p.add_argument(
        "--data",
        required=True,
        metavar="ROWS",
        help="a .csv file with a header row, or a .json list of objects: one task per row, "
        "each column's name a variable of the code",
    )
    p.add_argument(
        "--code",
        required=True,
        metavar="CODE",
        help="Python code run for each row (or '-' to read it from stdin); its final "
        "expression is the task's value",
    )
    add_task_options(p)
    subparsers.choices["list"].add_argument(
        "--names", action="store_true", help="print only the names, one a line (for scripts)"
    )
    subparsers.choices["status"].add_argument(
        "--reduce", action="store_true", help="one status for the bundle"
    )
    subparsers.choices["wait"].add_argument(
        "--timeout", type=float, metavar="S", help="give up after S seconds"
    )


def _create(args: argparse.Namespace) -> None:
    if args.bundle and args.name and args.bundle != args.name:
        raise HipercowError(
            f"Two names for the bundle: '{args.bundle}' and --name '{args.name}'; give one"
        )
    rows = read_rows(args.data)
    code = sys.stdin.read() if args.code == "-" else args.code
    bundle = api.task_create_bulk_expr(
        code, rows, namespace={}, bundle_name=args.bundle or args.name, **task_options(args)
    )
    print(bundle.name)
    print(f"Created bundle '{bundle.name}': {len(bundle)} tasks, one a row", file=sys.stderr)


def _list(args: argparse.Namespace) -> None:
    names = api.hipercow_bundle_list()
    if args.names:
        for name in names:
            print(name)
        return
    if not names:
        print("No bundles", file=sys.stderr)
        return
    rows = []
    for name in names:
        statuses = api.hipercow_bundle_status(name)
        overall = status_reduce(statuses) if statuses else ""
        rows.append((name, str(len(statuses)), overall, counts_text(statuses)))
    print_table(("NAME", "TASKS", "STATUS", "STATES"), rows, wide=("STATES",))


def row_text(summary: dict) -> str:
    """A task's row of parameters in one line ('beta=0.3, seed=7'), or '' for a task that
    has none.
    """
    row = summary.get("row")
    return ", ".join(f"{k}={v}" for k, v in row.items()) if row else ""


def _status(args: argparse.Namespace) -> None:
    bundle = api.hipercow_bundle_load(args.bundle)
    if args.reduce:
        print(api.hipercow_bundle_status(bundle, reduce=True))
        return
    rows = [
        (
            short_id(s["id"]),
            s["status"] or "unknown",
            row_text(s),
            s.get("node") or "",
            "" if s["waited"] is None else pretty_dt(s["waited"]),
            "" if s["ran_for"] is None else pretty_dt(s["ran_for"]),
            note_text(s),
        )
        for s in api.task_summaries(bundle)
    ]
    header = ("ID", "STATUS", "ROW", "NODE", "WAITED", "RAN FOR", "NOTE")
    print_table(header, rows, wide=("ROW", "NOTE"))


def _show(args: argparse.Namespace) -> None:
    for task_id in api.hipercow_bundle_load(args.bundle).ids:
        print(task_id)


def _wait(args: argparse.Namespace) -> None:
    if can_draw_progress():
        bundle = api.hipercow_bundle_load(args.bundle)
        statuses = wait_with_progress(
            bundle.ids, f"bundle '{bundle.name}'", timeout=args.timeout, fail_early=True
        )
        ok = all(s == "success" for s in statuses)
    else:
        ok = api.hipercow_bundle_wait(args.bundle, timeout=args.timeout, progress=True)
    if not ok:
        raise HipercowError(
            f"Bundle '{args.bundle}' did not succeed; 'hipercow bundle status {args.bundle}' "
            "lists its tasks with their errors"
        )


def _result(args: argparse.Namespace) -> None:
    for value in api.hipercow_bundle_result(args.bundle):
        print_value(value)


def _cancel(args: argparse.Namespace) -> None:
    api.hipercow_bundle_cancel(args.bundle)


def _retry(args: argparse.Namespace) -> None:
    api.hipercow_bundle_retry(args.bundle)


def _logs(args: argparse.Namespace) -> None:
    bundle = api.hipercow_bundle_load(args.bundle)
    for task_id, log in zip(bundle.ids, api.hipercow_bundle_logs(bundle)):
        print(f"── {task_id} ──")
        print(log or "(no log yet)")


def _delete(args: argparse.Namespace) -> None:
    api.hipercow_bundle_delete(args.bundle)


_HANDLERS = {
    "create": _create,
    "list": _list,
    "show": _show,
    "status": _status,
    "wait": _wait,
    "result": _result,
    "cancel": _cancel,
    "retry": _retry,
    "logs": _logs,
    "delete": _delete,
}
