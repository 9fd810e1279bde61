"""The `hipercow` command line: a thin layer over the same api as everything else."""

from __future__ import annotations

import argparse
import json
import os
import sys

from hipercow_magic import api
from hipercow_magic.api import (
    hipercow_bundle_cancel,
    hipercow_bundle_delete,
    hipercow_bundle_list,
    hipercow_bundle_load,
    hipercow_bundle_logs,
    hipercow_bundle_result,
    hipercow_bundle_retry,
    hipercow_bundle_status,
    hipercow_bundle_wait,
)
from hipercow_magic.cli.args import add_environment_parser, add_provision_parser
from hipercow_magic.core.errors import HipercowError


def _option_value(text: str):
    """Values of --option NAME=VALUE: JSON when it parses (numbers, lists), else the string."""
    try:
        return json.loads(text)
    except ValueError:
        return text


def _options(pairs: list[str]) -> dict:
    out = {}
    for pair in pairs or []:
        if "=" not in pair:
            raise HipercowError(f"Invalid option '{pair}': expected NAME=VALUE")
        name, value = pair.split("=", 1)
        out[name.replace("-", "_")] = _option_value(value)
    return out


def _resources(args) -> object | None:
    fields = {
        "cores": args.cores,
        "exclusive": args.exclusive or None,
        "max_runtime": args.max_runtime,
        "hold_until": args.hold_until,
        "memory_per_node": args.memory_per_node,
        "memory_per_process": args.memory_per_process,
        "requested_nodes": args.nodes,
        "priority": args.priority,
        "queue": args.queue,
    }
    given = {k: v for k, v in fields.items() if v is not None}
    if not given:
        return None
    if "cores" in given and given["cores"].lower() not in ("inf", "infinity"):
        try:
            given["cores"] = int(given["cores"])
        except ValueError:
            pass  # hipercow_resources explains
    return api.hipercow_resources(**given)


def _print_value(value) -> None:
    print(value if isinstance(value, str) else repr(value))


def cmd_init(args):
    api.hipercow_init(
        args.path,
        driver=args.driver,
        **_options(args.option),
        **({"cluster": args.cluster} if args.cluster else {}),
    )


def cmd_configure(args):
    api.hipercow_configure(args.driver, **_options(args.option))


def cmd_unconfigure(args):
    api.hipercow_unconfigure(args.driver)


def cmd_configuration(args):
    api.hipercow_configuration()


def cmd_cluster_info(args):
    print(api.hipercow_cluster_info(driver=args.driver))


def cmd_hello(args):
    _print_value(api.hipercow_hello(timeout=args.timeout, driver=args.driver))


def cmd_create(args):
    resources = _resources(args)
    parallel = None
    if args.parallel or args.cores_per_process:
        parallel = api.hipercow_parallel(args.parallel, args.cores_per_process or 1)
    common = dict(
        environment=args.environment,
        driver=args.driver,
        resources=resources,
        parallel=parallel,
        name=args.name,
        envvars=api.hipercow_envvars(*args.envvar) if args.envvar else None,
    )
    if args.script:
        task = api.task_create_script(args.script, chdir=args.chdir, **common)
    else:
        code = args.code if args.code != "-" else sys.stdin.read()
        task = api.task_create_expr(code, namespace={}, **common)
    print(task.id)


def cmd_task(args):
    action = args.action
    ids = args.ids
    if action == "list":
        for row in api.task_summaries(
            api.task_list(with_status=args.status or None, in_bundle=args.bundle)
        ):
            print(f"{row['id']}  {row['status']:<9}  {row['type'] or '':<10}  {row['name'] or ''}")
        return
    if not ids:
        raise HipercowError(f"'hipercow task {action}' needs at least one task id")
    if action == "status":
        for task_id, status in zip(ids, api.task_status(ids)):
            print(f"{task_id}  {status}")
    elif action == "info":
        for task_id in ids:
            print(api.task_info(task_id))
    elif action == "result":
        for task_id in ids:
            _print_value(api.task_result(task_id))
    elif action == "log":
        for task_id in ids:
            if args.follow:
                api.task_log_watch(task_id)
            else:
                api.task_log_show(task_id, outer=args.outer)
    elif action == "wait":
        ok = all(api.task_wait(i, timeout=args.timeout, progress=True) for i in ids)
        if not ok:
            raise HipercowError("At least one task did not succeed")
    elif action == "cancel":
        api.task_cancel(ids)
    elif action == "retry":
        for task in api.task_retry(ids):
            print(task.id)
    elif action == "submit":
        api.task_submit(ids, driver=args.driver)


def cmd_bundle(args):
    action, name = args.action, args.name
    if action == "list":
        for bundle in hipercow_bundle_list():
            print(bundle)
        return
    if name is None:
        raise HipercowError(f"'hipercow bundle {action}' needs a bundle name")
    if action == "status":
        bundle = hipercow_bundle_load(name)
        if args.reduce:
            print(hipercow_bundle_status(bundle, reduce=True))
        else:
            for task_id, status in zip(bundle.ids, hipercow_bundle_status(bundle)):
                print(f"{task_id}  {status}")
    elif action == "show":
        for task_id in hipercow_bundle_load(name).ids:
            print(task_id)
    elif action == "wait":
        if not hipercow_bundle_wait(name, timeout=args.timeout, progress=True):
            raise HipercowError(f"Bundle '{name}' did not succeed")
    elif action == "result":
        for value in hipercow_bundle_result(name):
            _print_value(value)
    elif action == "cancel":
        hipercow_bundle_cancel(name)
    elif action == "retry":
        hipercow_bundle_retry(name)
    elif action == "logs":
        for task_id, log in zip(hipercow_bundle_load(name).ids, hipercow_bundle_logs(name)):
            print(f"── {task_id} ──")
            print(log or "(no log yet)")
    elif action == "delete":
        hipercow_bundle_delete(name)


def cmd_purge(args):
    api.hipercow_purge(
        task_ids=args.ids or None,
        finished_before=args.finished_before,
        in_bundle=args.bundle,
        with_status=args.status or None,
        dry_run=args.dry_run,
    )


def _add_resource_flags(p: argparse.ArgumentParser) -> None:
    p.add_argument("--cores")
    p.add_argument("--exclusive", action="store_true")
    p.add_argument("--max-runtime")
    p.add_argument("--hold-until")
    p.add_argument("--memory-per-node")
    p.add_argument("--memory-per-process")
    p.add_argument("--nodes", help="comma-separated node names")
    p.add_argument("--priority", choices=["low", "normal"])
    p.add_argument("--queue")
    p.add_argument("--parallel", choices=["parallel", "future"])
    p.add_argument("--cores-per-process", type=int)
    p.add_argument("--environment", default="default")
    p.add_argument("--envvar", action="append", default=[], metavar="NAME=VALUE")
    p.add_argument("--driver")
    p.add_argument("--name")


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(
        prog="hipercow",
        description=("Send work to an HPC cluster (or this machine's virtual cluster) as tasks."),
    )
    top.add_argument(
        "--traceback",
        action="store_true",
        help="show the full traceback of errors (or set HIPERCOW_TRACEBACK=1)",
    )
    sub = top.add_subparsers(dest="command", required=True)

    p = sub.add_parser("init", help="create a root here (or at PATH)")
    p.add_argument("path", nargs="?", default=".")
    p.add_argument("--driver")
    p.add_argument("--cluster", help="local driver: 'example' for the seed's 4-node cluster")
    p.add_argument("--option", action="append", metavar="NAME=VALUE")
    p.set_defaults(func=cmd_init)

    p = sub.add_parser("configure", help="configure a driver for this root")
    p.add_argument("driver")
    p.add_argument("--option", action="append", metavar="NAME=VALUE")
    p.set_defaults(func=cmd_configure)

    p = sub.add_parser("unconfigure", help="remove a driver's configuration")
    p.add_argument("driver")
    p.set_defaults(func=cmd_unconfigure)

    sub.add_parser("configuration", help="paths, versions, drivers").set_defaults(
        func=cmd_configuration
    )

    p = sub.add_parser("cluster-info", help="the configured cluster's nodes and queues")
    p.add_argument("--driver")
    p.set_defaults(func=cmd_cluster_info)

    p = sub.add_parser("hello", help="run a test task")
    p.add_argument("--driver")
    p.add_argument("--timeout", type=float, default=60)
    p.set_defaults(func=cmd_hello)

    p = sub.add_parser("create", help="create a task from code (or '-' for stdin) or a script")
    p.add_argument("code", nargs="?", default=None)
    p.add_argument("--script")
    p.add_argument("--chdir", action="store_true")
    _add_resource_flags(p)
    p.set_defaults(func=cmd_create)

    p = sub.add_parser("task", help="look at and act on tasks")
    p.add_argument(
        "action",
        choices=["status", "info", "result", "log", "wait", "cancel", "retry", "list", "submit"],
    )
    p.add_argument("ids", nargs="*")
    p.add_argument("--follow", action="store_true", help="log: stream until the task ends")
    p.add_argument("--outer", action="store_true", help="log: the scheduler's own log")
    p.add_argument("--timeout", type=float)
    p.add_argument("--status", action="append", help="list: only this status (repeatable)")
    p.add_argument("--bundle", help="list: only tasks in bundles matching this glob")
    p.add_argument("--driver")
    p.set_defaults(func=cmd_task)

    p = sub.add_parser("bundle", help="look at and act on bundles")
    p.add_argument(
        "action",
        choices=["list", "show", "status", "wait", "result", "cancel", "retry", "logs", "delete"],
    )
    p.add_argument("name", nargs="?")
    p.add_argument("--reduce", action="store_true")
    p.add_argument("--timeout", type=float)
    p.set_defaults(func=cmd_bundle)

    add_environment_parser(sub)
    add_provision_parser(sub)

    p = sub.add_parser("purge", help="delete finished tasks")
    p.add_argument("ids", nargs="*")
    p.add_argument("--finished-before")
    p.add_argument("--bundle")
    p.add_argument("--status", action="append")
    p.add_argument("--dry-run", action="store_true")
    p.set_defaults(func=cmd_purge)
    return top


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    if args.command == "create" and args.code is None and args.script is None:
        print("Error: give code (or '-' to read it from stdin) or --script PATH", file=sys.stderr)
        return 2
    try:
        args.func(args)
    except HipercowError as e:
        if args.traceback or os.environ.get("HIPERCOW_TRACEBACK"):
            raise
        print(f"Error: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
