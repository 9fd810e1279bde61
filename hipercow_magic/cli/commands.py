"""What each `hipercow` command does: call the api with the parsed arguments and print."""

from __future__ import annotations

import argparse
import sys

from hipercow_magic import api
from hipercow_magic.api.create import task_why
from hipercow_magic.api.suggest import hipercow_resources_suggest
from hipercow_magic.cli.args import (
    configure_options,
    init_options,
    task_options,
)
from hipercow_magic.cli.progress import can_draw_progress, wait_with_progress
from hipercow_magic.cli.tables import print_table
from hipercow_magic.core.errors import HipercowError
from hipercow_magic.core.format import clock_time, pretty_dt, short_id
from hipercow_magic.core.status import count_statuses
from hipercow_magic.core.tracebacks import traceback_ansi


def status_counts_text(statuses: list) -> str:
    """How many tasks there are of each status, e.g. '3 tasks: 2 success, 1 failure'."""
    total = len(statuses)
    detail = ", ".join(f"{n} {s or 'unknown'}" for s, n in count_statuses(statuses).items())
    return f"{total} task{'s' if total != 1 else ''}" + (f": {detail}" if detail else "")


def print_value(value) -> None:
    """A task's value as a command prints it: a string as it is, anything else as its repr."""
    print(value if isinstance(value, str) else repr(value))


def cmd_init(args: argparse.Namespace) -> None:
    """`hipercow init`: create a root (and configure a driver)."""
    api.hipercow_init(args.path, driver=args.driver, **init_options(args))


def cmd_configure(args: argparse.Namespace) -> None:
    """`hipercow configure DRIVER [KEY=VALUE ...]`."""
    api.hipercow_configure(args.driver, **configure_options(args))


def cmd_unconfigure(args: argparse.Namespace) -> None:
    """`hipercow unconfigure DRIVER`."""
    api.hipercow_unconfigure(args.driver)


def cmd_configuration(args: argparse.Namespace) -> None:
    """`hipercow configuration`: paths, versions, drivers, environments."""
    api.hipercow_configuration()


def cmd_cluster_info(args: argparse.Namespace) -> None:
    """`hipercow cluster-info`: the configured cluster's nodes and queues."""
    print(api.hipercow_cluster_info(driver=args.driver))


def cmd_hello(args: argparse.Namespace) -> None:
    """`hipercow hello`: run a small test task and print its value."""
    print_value(api.hipercow_hello(timeout=args.timeout, driver=args.driver))


def cmd_create(args: argparse.Namespace) -> None:
    """`hipercow create CODE|-|--script PATH`: create a task and print its id."""
    common = task_options(args)
    if args.script:
        task = api.task_create_script(args.script, chdir=args.chdir, name=args.name, **common)
    else:
        code = args.code if args.code != "-" else sys.stdin.read()
        task = api.task_create_expr(code, namespace={}, name=args.name, **common)
    print(task.id)


def cmd_purge(args: argparse.Namespace) -> None:
    """`hipercow purge`: delete finished tasks."""
    api.hipercow_purge(
        task_ids=[api.resolve_task_id(i) for i in args.ids] or None,
        finished_before=args.finished_before,
        in_bundle=args.bundle,
        with_status=args.status or None,
        dry_run=args.dry_run,
    )


# ---- hipercow task COMMAND --------------------------------------------------------------
def cmd_task(args: argparse.Namespace) -> None:
    """`hipercow task COMMAND [ID ...]`: look at and act on tasks (ids or their prefixes)."""
    if args.action == "list":
        _task_list(args)
        return
    if args.action == "suggest":
        _task_suggest(args)
        return
    ids = [api.resolve_task_id(i) for i in args.ids]
    if args.action == "status" and not ids:
        print(status_counts_text(api.task_status(api.task_list())))
        return
    if not ids:
        raise HipercowError(f"'hipercow task {args.action}' needs at least one task id")
    _TASK_ACTIONS[args.action](args, ids)


LIST_COLUMNS = ("ID", "STATUS", "NAME", "CREATED", "FINISHED", "RAN FOR", "TYPE")


def note_text(summary: dict) -> str:
    """What a list says of a task besides its state: the error line of a failed task, why a
    queued one waits, or why its record can't be read.
    """
    if summary.get("problem"):
        return f"! unreadable: {summary['problem']}"
    return summary.get("error") or summary.get("waiting") or summary.get("pending") or ""


def task_list_rows(rows: list[dict], now: float | None = None) -> list[tuple[str, ...]]:
    """The cells of `hipercow task list`: short id, status, name, created and finished clock
    times, ran for (so far, while running) and type; a task whose record can't be read says
    why in place of its type.
    """
    out = []
    for row in rows:
        ran_for = row["ran_for"]
        out.append(
            (
                short_id(row["id"]),
                row["status"] or "unknown",
                row["name"] or "",
                clock_time(row.get("created"), now),
                clock_time(row.get("finished"), now),
                "" if ran_for is None else pretty_dt(ran_for),
                f"! unreadable: {row['problem']}" if row.get("problem") else row["type"] or "",
            )
        )
    return out


def _task_list(args: argparse.Namespace) -> None:
    ids = api.task_list(with_status=args.status or None, in_bundle=args.bundle)
    shown = ids if args.n <= 0 else ids[: args.n]
    if args.ids_only:
        for task_id in shown:
            print(task_id)
    elif shown:
        print_table(LIST_COLUMNS, task_list_rows(api.task_summaries(shown)))
    else:
        print("No tasks" + (" match" if args.status or args.bundle else ""), file=sys.stderr)
    if len(shown) < len(ids):
        print(f"({len(ids) - len(shown)} more; -n 0 lists all)", file=sys.stderr)


def _task_suggest(args: argparse.Namespace) -> None:
    """`hipercow task suggest ID|BUNDLE ...`: a request from what the tasks used, and why."""
    if not args.ids:
        raise HipercowError(
            "'hipercow task suggest' needs a task id (or its first 4 or more characters) or "
            "a bundle name"
        )
    for word in args.ids:
        print(hipercow_resources_suggest(word))


def _task_status(args, ids: list[str]) -> None:
    for task_id, status in zip(ids, api.task_status(ids)):
        print(f"{task_id}  {status}")


def _task_info(args, ids: list[str]) -> None:
    for task_id in ids:
        print(api.task_info(task_id))


def _task_result(args, ids: list[str]) -> None:
    failed = []
    for task_id in ids:
        value = api.task_result(task_id)
        node_traceback = getattr(value, "node_traceback", None)
        if isinstance(value, BaseException) and node_traceback:
            sys.stdout.flush()
            print(
                traceback_ansi(node_traceback) if sys.stderr.isatty() else node_traceback,
                end="",
                file=sys.stderr,
            )
            failed.append(short_id(task_id))
        else:
            print_value(value)
    if failed:
        raise HipercowError(
            f"Task{'s' if len(failed) > 1 else ''} {', '.join(failed)} failed, with the error "
            f"above; 'hipercow task log {failed[0]}' shows the log"
        )


def _task_log(args, ids: list[str]) -> None:
    for task_id in ids:
        if args.follow:
            api.task_log_watch(task_id)
        else:
            api.task_log_show(task_id, outer=args.outer)


def _task_wait(args, ids: list[str]) -> None:
    if can_draw_progress():
        label = f"task {short_id(ids[0])}" if len(ids) == 1 else f"{len(ids)} tasks"
        statuses = wait_with_progress(ids, label, timeout=args.timeout)
        ok = all(s == "success" for s in statuses)
    else:
        ok = all(api.task_wait(i, timeout=args.timeout, progress=True) for i in ids)
    if not ok:
        raise HipercowError("At least one task did not succeed")


def _task_cancel(args, ids: list[str]) -> None:
    api.task_cancel(ids)


def _task_retry(args, ids: list[str]) -> None:
    for task in api.task_retry(ids):
        print(task.id)


def _task_submit(args, ids: list[str]) -> None:
    api.task_submit(ids, driver=args.driver)


def _task_why(args, ids: list[str]) -> None:
    for task_id in ids:
        print(task_why(task_id))


_TASK_ACTIONS = {
    "status": _task_status,
    "info": _task_info,
    "result": _task_result,
    "log": _task_log,
    "wait": _task_wait,
    "cancel": _task_cancel,
    "retry": _task_retry,
    "submit": _task_submit,
    "why": _task_why,
}
