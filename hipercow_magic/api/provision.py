"""Provisioning, as users call it: install packages for an environment's tasks (as a task on
the cluster), list, check and compare installations.
"""

from __future__ import annotations

import io
import shutil
import sys
import time

from hipercow_magic.api.create import task_create_call
from hipercow_magic.api.tasks import task_status
from hipercow_magic.api.watching import task_log_watch
from hipercow_magic.core.environment import check_name, read_environment
from hipercow_magic.core.errors import HipercowError
from hipercow_magic.core.format import time_ago
from hipercow_magic.core.provision import (
    all_records,
    build_dir,
    current_record,
    describe_request,
    installations,
    new_build_id,
    own_record,
    read_record,
    resolve_request,
    write_record,
    write_record_task,
)
from hipercow_magic.core.root import find_root
from hipercow_magic.drivers.registry import require_driver
from hipercow_magic.engine.provision import active_users, installation_under_way
from hipercow_magic.node.provision import run_installation


def _in_kernel() -> bool:
    shell = (
        sys.modules.get("IPython")
        and getattr(sys.modules["IPython"], "get_ipython", lambda: None)()
    )
    return getattr(shell, "kernel", None) is not None


def _no_input_errors() -> tuple[type[BaseException], ...]:
    """What `input()` raises when nobody can answer: end of input, a closed or missing
    terminal, or a notebook front end that can't read input (IPython's
    StdinNotImplementedError, looked up only if IPython is loaded).
    """
    ipython = getattr(sys.modules.get("IPython.core.error"), "StdinNotImplementedError", None)
    return (EOFError, OSError) + ((ipython,) if ipython is not None else ())


def _ask(question: str) -> bool | None:
    """True/False from the user, or None when nobody can be asked."""
    if not (sys.stdin is not None and sys.stdin.isatty()) and not _in_kernel():
        return None
    try:
        answer = input(question)
    except _no_input_errors():
        return None
    return answer.strip().lower() in ("y", "yes")


def _check_running(root, environment: str, check_running_tasks: bool) -> None:
    task = installation_under_way(root, environment)
    if task is not None:
        raise HipercowError(
            f"Environment '{environment}' is already being provisioned by task "
            f"'{task}'\nWait for it with task_wait('{task}') "
            "(or cancel it) before provisioning again."
        )
    if not check_running_tasks:
        return
    users = active_users(root, environment)
    if not users:
        return
    shown = ", ".join(users[:5]) + (f" and {len(users) - 5} more" if len(users) > 5 else "")
    what = (
        f"{len(users)} task{'s' if len(users) > 1 else ''} using environment "
        f"'{environment}' {'are' if len(users) > 1 else 'is'} queued or running: {shown}\n"
        "Running tasks keep the installation they started with; queued ones will start "
        "with the new one."
    )
    answer = _ask(f"{what}\nProvision anyway? [y/N] ")
    if answer is None:
        raise HipercowError(
            f"{what}\nWait for them (task_wait) or cancel them (task_cancel) first, or pass "
            "check_running_tasks=False (--force) to provision anyway."
        )
    if not answer:
        raise HipercowError("Provisioning cancelled; nothing was installed")


def _check_environment(root, environment: str) -> None:
    check_name(environment)
    if environment == "empty":
        raise HipercowError(
            "Can't provision the 'empty' environment, which never loads "
            "anything\nProvision 'default' or another environment."
        )
    read_environment(root, environment)


def _elapsed(seconds: float) -> str:
    return f"{seconds:.1f} s" if seconds < 120 else f"{seconds / 60:.1f} min"


def hipercow_provision(
    method: str | None = None,
    environment: str = "default",
    *,
    driver=None,
    check_running_tasks: bool = True,
    resources=None,
    show_log: bool = True,
    root=None,
    **options,
) -> dict:
    """Install packages for an environment's tasks, as a task on the cluster, and show its
    log while it runs. Each installation is a new virtual environment; tasks already running
    keep the one they started with.

    Args:
        method: 'pip' (options `requirements=[...]` or `file=`; default requirements.txt,
            else pyproject.toml's dependencies) or 'script' (option `script=`, default
            provision.sh); None picks from the options and the root's files.
        environment: the environment to install for ('default' also serves environments
            without an installation of their own).
        driver: the driver to run the installation on (default: the one configured).
        check_running_tasks: ask first (or refuse, when nobody can be asked) if queued or
            running tasks use this environment.
        resources: what the installation task asks for, from hipercow_resources().
        show_log: print the installation's log as it runs.
        root: the hipercow root (default: found from the working directory).
        **options: the method's options: `requirements`, `file` or `script`.

    Returns:
        The installation's record: id, environment, request, status, task, and once
        installed its packages.

    Raises:
        HipercowError: an invalid environment or method, an installation already under way,
            tasks using the environment (unless confirmed), or a failed installation (the
            previous one stays in use).
    """
    root = find_root(root)
    _check_environment(root, environment)
    driver = require_driver(root, driver)
    request = resolve_request(root, method, options)
    _check_running(root, environment, check_running_tasks)
    build_id = new_build_id(root, environment)
    record = {
        "id": build_id,
        "environment": environment,
        "request": request,
        "status": "submitted",
        "created": time.time(),
        "task": None,
    }
    write_record(root, record)
    try:
        task = task_create_call(
            run_installation,
            (root.relative_workdir(), environment, build_id),
            name=f"provision:{environment}",
            environment="empty",
            driver=driver,
            resources=resources,
            root=root,
        )
    except BaseException:
        shutil.rmtree(build_dir(root, environment, build_id), ignore_errors=True)
        raise
    write_record_task(root, environment, build_id, task.id)
    print(f"ℹ Provisioning environment '{environment}' with {describe_request(request)}")
    print(f"ℹ Installation {build_id} runs as task '{task.id}' on '{driver}'")
    started = time.monotonic()
    ok = task_log_watch(task.id, root=root, out=None if show_log else io.StringIO())
    if ok is None:
        print(f"ℹ Stopped watching; the installation continues as task '{task.id}'")
        return read_record(root, environment, build_id)
    elapsed = _elapsed(time.monotonic() - started)
    if not ok:
        status = task_status(task.id, root=root)
        previous = current_record(root, environment)
        kept = (
            f"Tasks keep using installation {previous['id']}."
            if previous
            else "Nothing was installed for this environment."
        )
        raise HipercowError(
            f"Installation failed after {elapsed} with status '{status}'\n"
            f"{kept} See the log with task_log_show('{task.id}')."
        )
    print(f"✔ Installation script finished successfully in {elapsed}")
    return read_record(root, environment, build_id)


def _line(index: int | None, record: dict, total: int, current: str | None) -> str:
    when = time_ago(record["created"])
    if index is None:
        return (
            f"✖ {record['id']} ({when}) {record['status']}: {describe_request(record['request'])}"
        )
    mark = " (current)" if record["id"] == current else ""
    return (
        f"• {index}: {record['id']} ({when}) [{index - total}]{mark} "
        f"{describe_request(record['request'])}"
    )


def hipercow_provision_list(environment: str = "default", root=None) -> list[dict]:
    """Print the installations made for an environment (successful ones numbered, oldest first).

    Args:
        environment: the environment's name.
        root: the hipercow root (default: found from the working directory).

    Returns:
        Every installation's record, oldest first, including unsuccessful ones.
    """
    root = find_root(root)
    check_name(environment)
    records = all_records(root, environment)
    done = [r for r in records if r["status"] == "success"]
    current = (own_record(root, environment) or {}).get("id")
    failed = len(records) - len(done)
    print(
        f"{len(done)} installation{'' if len(done) == 1 else 's'} recorded for environment "
        f"'{environment}'" + (f" (and {failed} not successful)" if failed else "")
    )
    for record in records:
        index = done.index(record) + 1 if record in done else None
        print(_line(index, record, len(done), current))
    return records


def hipercow_provision_check(
    method: str | None = None, environment: str = "default", root=None, **options
) -> bool:
    """Whether the current installation was made from exactly this request; print the
    installations, those matching it marked (*).

    Args:
        method: 'pip', 'script' or None, as for hipercow_provision().
        environment: the environment's name.
        root: the hipercow root (default: found from the working directory).
        **options: the method's options, as for hipercow_provision().

    Returns:
        True if the installation tasks use now was made from this request.
    """
    root = find_root(root)
    _check_environment(root, environment)
    request = resolve_request(root, method, options)
    done = installations(root, environment)
    current = (own_record(root, environment) or {}).get("id")
    print(f"Request: {describe_request(request)}")
    for index, record in enumerate(done, 1):
        star = " (*)" if record["request"]["hash"] == request["hash"] else ""
        print(_line(index, record, len(done), current) + star)
    matched = any(r["id"] == current and r["request"]["hash"] == request["hash"] for r in done)
    print(
        "✔ The current installation matches this request"
        if matched
        else "ℹ The current installation does not match this request; run hipercow_provision()"
    )
    return matched


def _pick(done: list[dict], which) -> dict | None:
    if which is None or which == float("-inf"):
        return None
    if isinstance(which, str):
        for record in done:
            if record["id"] == which:
                return record
        raise HipercowError(f"No installation '{which}'")
    if not isinstance(which, int) or isinstance(which, bool):
        raise HipercowError(f"Choose an installation by number or id, not {which!r}")
    position = which - 1 if which > 0 else len(done) - 1 + which
    if not 0 <= position < len(done):
        raise HipercowError(
            f"No installation {which}: {len(done)} installation"
            f"{'' if len(done) == 1 else 's'} recorded\nUse 0 for the latest, -1 for the one "
            "before, or 1, 2, ... counting from the first (see hipercow_provision_list())."
        )
    return done[position]


def _canonical(name: str) -> str:
    return name.lower().replace("_", "-").replace(".", "-")


def hipercow_provision_compare(curr=0, prev=-1, environment: str = "default", root=None) -> dict:
    """Print what changed between two installations of an environment.

    Args:
        curr: the newer installation: 0 for the latest, -1 for the one before and so on,
            1, 2... counting from the first, or an installation id.
        prev: the older one, chosen the same way; None compares with nothing installed.
        environment: the environment's name.
        root: the hipercow root (default: found from the working directory).

    Returns:
        A dict with 'added', 'removed' and 'unchanged' ({package: version}) and 'changed'
        ({package: (old version, new version)}).

    Raises:
        HipercowError: no such installation.
    """
    root = find_root(root)
    check_name(environment)
    done = installations(root, environment)
    new, old = _pick(done, curr), _pick(done, prev)
    if new is None:
        raise HipercowError("'curr' must name an installation")
    before = {
        _canonical(p["name"]): (p["name"], p["version"]) for p in (old or {}).get("packages", [])
    }
    after = {_canonical(p["name"]): (p["name"], p["version"]) for p in new["packages"]}
    result = {
        "added": {after[k][0]: after[k][1] for k in sorted(after.keys() - before.keys())},
        "removed": {before[k][0]: before[k][1] for k in sorted(before.keys() - after.keys())},
        "changed": {
            after[k][0]: (before[k][1], after[k][1])
            for k in sorted(after.keys() & before.keys())
            if before[k][1] != after[k][1]
        },
        "unchanged": {
            after[k][0]: after[k][1]
            for k in sorted(after.keys() & before.keys())
            if before[k][1] == after[k][1]
        },
    }
    print(f"── Comparing installations of environment '{environment}' ──")
    print(
        f"  previous: {old['id'] + ' (' + time_ago(old['created']) + ')' if old else '(nothing)'}"
    )
    print(f"  current:  {new['id']} ({time_ago(new['created'])})")
    for key, label in (
        ("added", "Added"),
        ("removed", "Removed"),
        ("changed", "Changed"),
        ("unchanged", "Unchanged"),
    ):
        items = result[key]
        print(f"{label} ({len(items)})" + (":" if items else ""))
        for name, version in items.items():
            shown = f"{version[0]} → {version[1]}" if key == "changed" else version
            print(f"  • {name} {shown}")
    return result
