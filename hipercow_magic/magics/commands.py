"""What each `%hipercow COMMAND` does, given the magics (for the namespace and the displays)
and the arguments parsed by `parsers.line_parser()`.
"""

from __future__ import annotations

import re

from hipercow_magic import api
from hipercow_magic.api import Bundle
from hipercow_magic.api.create import task_why
from hipercow_magic.api.suggest import hipercow_resources_suggest
from hipercow_magic.cli.args import (
    configure_options,
    environment_command,
    init_options,
    provision_command,
    remote_command,
)
from hipercow_magic.cli.commands import status_counts_text
from hipercow_magic.core.errors import HipercowError
from hipercow_magic.magics.delivery import next_sequence
from hipercow_magic.widgets.model import BulkModel, TaskModel

IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_HEX = re.compile(r"^[0-9a-f]{4,32}$")


# ---- what the user typed ------------------------------------------------------------------
def resolve_handle(magics, text: str):
    """A Task or Bundle from a variable, a bundle name, a task id or an id prefix."""
    value = magics.shell.user_ns.get(text)
    if isinstance(value, (api.Task, Bundle)):
        return value
    if _HEX.match(text.lower()):
        return api.Task(resolve_id(magics, text))
    if text in api.hipercow_bundle_list():
        return api.hipercow_bundle_load(text)
    raise HipercowError(
        f"No task or bundle '{text}': give a task id (or its first "
        "characters), a bundle name or a variable holding a handle"
    )


def resolve_id(magics, text: str) -> str:
    """A task's full id from a variable holding its handle, its id or the id's first
    4 or more characters (see `api.resolve_task_id`).
    """
    value = magics.shell.user_ns.get(text)
    if isinstance(value, api.Task):
        return value.id
    text = text.lower()
    if not _HEX.match(text):
        raise HipercowError(f"'{text}' is not a task id")
    return api.resolve_task_id(text)


def _ids(magics, args) -> list[str]:
    if not args.ids:
        raise HipercowError(f"'%hipercow {args.command}' needs at least one task id")
    return [resolve_id(magics, i) for i in args.ids]


def _handles(magics, args) -> list:
    if not args.ids:
        raise HipercowError(f"'%hipercow {args.command}' needs at least one task id")
    return [resolve_handle(magics, i) for i in args.ids]


def _one_or_list(values: list):
    return values[0] if len(values) == 1 else values


# ---- the commands -------------------------------------------------------------------------
def cmd_init(magics, args) -> None:
    """`%hipercow init [PATH] [--driver D] [--cluster NAME] [--option K=V]`."""
    api.hipercow_init(args.path, driver=args.driver, **init_options(args))


def cmd_configure(magics, args) -> None:
    """`%hipercow configure DRIVER [K=V ...] [--option K=V]`."""
    api.hipercow_configure(args.driver, **configure_options(args))


def cmd_unconfigure(magics, args) -> None:
    """`%hipercow unconfigure DRIVER`."""
    api.hipercow_unconfigure(args.driver)


def cmd_configuration(magics, args) -> None:
    """`%hipercow configuration`."""
    api.hipercow_configuration()


def cmd_hello(magics, args):
    """`%hipercow hello`: run a small test task; its value is the output."""
    return api.hipercow_hello(timeout=args.timeout, driver=args.driver)


def cmd_provision(magics, args) -> None:
    """`%hipercow provision ...` (see `hipercow_magic.cli.args.add_provision_parser`)."""
    provision_command(args)


def cmd_environment(magics, args) -> None:
    """`%hipercow environment ...` (see `hipercow_magic.cli.args.add_environment_parser`)."""
    environment_command(args)


def cmd_remote(magics, args) -> None:
    """`%hipercow remote install|connect|disconnect|status` (see
    `hipercow_magic.cli.args.add_remote_parser`).
    """
    remote_command(args)


def cmd_status(magics, args) -> None:
    """`%hipercow status [ID ...]`: each one's status, or counts for the whole root."""
    if not args.ids:
        print(status_counts_text(api.task_status(api.task_list())))
        return
    for handle in _handles(magics, args):
        if isinstance(handle, Bundle):
            print(f"{handle.name}  {handle.status(reduce=True)}")
        else:
            print(f"{handle.id}  {handle.status()}")


def cmd_list(magics, args) -> None:
    """`%hipercow list`: a table of the root's tasks (live rows in a kernel)."""
    magics.show_task_list(
        api.task_list(with_status=args.status or None, in_bundle=args.bundle), args.n
    )


def cmd_show(magics, args) -> None:
    """`%hipercow show ID [--export]`: display a task or bundle live again."""
    handle = resolve_handle(magics, args.id)
    if isinstance(handle, Bundle):
        magics.show_bundle(BulkModel(handle, handle.root))
    else:
        magics.show_task(
            TaskModel(handle.id, handle.root, magics.delivery, next_sequence(), export=args.export)
        )


def cmd_info(magics, args) -> None:
    """`%hipercow info ID ...`: everything known about each task."""
    for task_id in _ids(magics, args):
        print(api.task_info(task_id))


def cmd_result(magics, args):
    """`%hipercow result ID ... [-o VAR] [--export]`: the value (a list for several)."""
    if args.out and not IDENTIFIER.match(args.out):
        raise HipercowError(f"-o/--out needs a variable name, not '{args.out}'")
    values = []
    for handle in _handles(magics, args):
        values.append(handle.result())
        if args.export and isinstance(handle, api.Task):
            newest = api.Task(handle.info().id, handle.root)  # a retried task's newest retry
            exported = newest.exports(follow=False)
            names = magics.delivery.deliver_now(next_sequence(), exported, newest)
            print(f"✔ Set {', '.join(names)}" if names else "ℹ The task assigned no variables")
    value = _one_or_list(values)
    if args.out:
        magics.shell.user_ns[args.out] = value
        return None
    return value


def cmd_log(magics, args) -> None:
    """`%hipercow log ID ... [--follow] [--outer]`."""
    for task_id in _ids(magics, args):
        if args.follow:
            api.task_log_watch(task_id)
        else:
            api.task_log_show(task_id, outer=args.outer)


def cmd_wait(magics, args):
    """`%hipercow wait ID ... [--timeout S]`: True when every task (or bundle) succeeded."""
    handles = _handles(magics, args)
    try:
        return all([h.wait(timeout=args.timeout) for h in handles])
    except KeyboardInterrupt:
        print("ℹ Stopped waiting; the task carries on")
        return None


def cmd_cancel(magics, args) -> None:
    """`%hipercow cancel ID ...`."""
    api.task_cancel(_one_or_list(_ids(magics, args)))


def cmd_submit(magics, args) -> None:
    """`%hipercow submit ID ... [--driver D]`: submit tasks created without a driver."""
    ids = _ids(magics, args)
    api.task_submit(ids, driver=args.driver)
    magics.watch_again(ids)


def cmd_retry(magics, args):
    """`%hipercow retry ID ...`: run finished tasks again; the new handle(s)."""
    ids = _ids(magics, args)
    handles = api.task_retry(ids)
    for old, new in zip(ids, handles):
        print(f"✔ Retrying '{old}' as '{new.id}'")
        magics.follow_retry(old, new.id)
    return _one_or_list(handles)


def cmd_why(magics, args) -> None:
    """`%hipercow why ID ...`: why each task ran rather than reusing an earlier task of its
    cell (what changed), or that it is the one unchanged runs reuse.
    """
    for task_id in _ids(magics, args):
        print(task_why(task_id))


def cmd_suggest(magics, args):
    """`%hipercow suggest ID|BUNDLE ...`: a resource request from what the tasks used, with
    its reasons (a Suggestion, or a list of them; `.resources` to create tasks with).
    """
    return _one_or_list([hipercow_resources_suggest(h) for h in _handles(magics, args)])


def cmd_purge(magics, args):
    """`%hipercow purge [ID ...] [--status S] [--finished-before T] [--bundle B] [--dry-run]`."""
    return api.hipercow_purge(
        task_ids=[resolve_id(magics, i) for i in args.ids] or None,
        finished_before=args.finished_before,
        in_bundle=args.bundle,
        with_status=args.status or None,
        dry_run=args.dry_run,
    )


COMMANDS = {
    "init": cmd_init,
    "configure": cmd_configure,
    "unconfigure": cmd_unconfigure,
    "configuration": cmd_configuration,
    "hello": cmd_hello,
    "provision": cmd_provision,
    "environment": cmd_environment,
    "remote": cmd_remote,
    "status": cmd_status,
    "list": cmd_list,
    "show": cmd_show,
    "info": cmd_info,
    "result": cmd_result,
    "log": cmd_log,
    "wait": cmd_wait,
    "cancel": cmd_cancel,
    "submit": cmd_submit,
    "retry": cmd_retry,
    "why": cmd_why,
    "suggest": cmd_suggest,
    "purge": cmd_purge,
}
