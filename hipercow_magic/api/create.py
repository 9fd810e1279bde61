"""Creating tasks: an expression (a cell), explicit variables, a call, a script; and submitting
tasks created without a driver (one task per row of data: create_bulk.py). An expression task
may reuse an earlier one with the same code and inputs; `task_why` says why one did not.
"""

from __future__ import annotations

from collections.abc import Iterable

from hipercow_magic.api.ids import resolve_task_id
from hipercow_magic.api.parents import task_parents
from hipercow_magic.api.tasks import Task
from hipercow_magic.core.errors import HipercowError
from hipercow_magic.core.resources import validate_resources
from hipercow_magic.core.root import find_root, task_ids
from hipercow_magic.core.task import marker_status
from hipercow_magic.drivers.registry import load_driver, require_driver
from hipercow_magic.engine.create import (
    Plan,
    call_task,
    caller_namespace,
    expression_task,
    script_task,
    write_tasks,
)
from hipercow_magic.engine.reuse import (
    cell_fingerprint,
    explain,
    find_reusable,
    remember,
    reuse_fields,
)
from hipercow_magic.engine.statuses import check_exists
from hipercow_magic.engine.submit import submit_tasks


def _create_one(plan: Plan, prepared, fingerprint=None) -> Task:
    if fingerprint is not None:
        prepared[1].update(reuse_fields(fingerprint))
    write_tasks(plan, [prepared])
    task = Task(prepared[0], plan.root)
    task.reused = task.attached = False
    if fingerprint is not None:
        remember(plan.root, prepared[1]["reuse_key"], task.id)
    plan.submit([task.id])
    return task


def _reused(plan: Plan, fingerprint) -> Task | None:
    """The task a new one with this fingerprint would repeat: one that succeeded (reused)
    or is queued or running (attached to); None when there is none.
    """
    found = find_reusable(plan.root, fingerprint.key())
    if found is None:
        return None
    task = Task(found[0], plan.root)
    task.reused = found[1] == "reused"
    task.attached = found[1] == "attached"
    return task


def task_create_expr(
    code: str,
    *,
    namespace: dict | None = None,
    name: str | None = None,
    environment: str = "default",
    driver=None,
    resources=None,
    envvars=None,
    parallel=None,
    root=None,
    depends_on=None,
    retry=None,
    imports=None,
    first_line: int = 1,
    reuse=False,
) -> Task:
    """A task running Python `code`, like a notebook cell on the cluster.

    The names the code reads are captured from the caller's variables (or `namespace`),
    so it runs with the values they had; names it assigns at top level come back with
    task_exports(), and a final expression is its result.

    With `reuse=True`, a task made earlier from the same code (comments and formatting
    aside) and the same inputs is returned instead of a new one: one that succeeded
    (`task.reused` is True: nothing is created or submitted), or one still queued or
    running (`task.attached` is True). The inputs are the values the code reads (by
    content), the notebook functions and classes it uses (by their code, and what they
    read), the modules of the root it imports or uses (by their files' content), the
    environment (and its provisioned installation), the Python version, and the tasks it
    depends on; not its resources. Files the code opens are not among them: use
    `reuse="rerun"` to run it anew after changing them.

    Args:
        code: Python statements; a final expression is the task's value.
        namespace: where to find the names the code reads (default: the caller's globals
            and locals).
        name: a name shown in lists and displays.
        environment: the environment loaded before the code ('default', 'empty', or one
            made with hipercow_environment_create()).
        driver: the driver to submit to: None for the one configured (or none), False to
            create without submitting (then task_submit()), or a driver's name.
        resources: what the task asks for, from hipercow_resources() (default: one core on
            the default queue).
        envvars: environment variables for the task, from hipercow_envvars().
        parallel: how a multi-core task uses its cores, from hipercow_parallel().
        root: the hipercow root (default: found from the working directory).
        depends_on: tasks that must succeed before this one starts: Task handles, Bundles
            (all their tasks), task ids or their first 4+ characters. If one of them fails
            or is cancelled, this task ends 'cancelled' with the reason.
        retry: retry the task automatically when it fails, growing what it asks for
            (tasks cancelled for waiting on it then run again, waiting for the retry): a
            policy from hipercow_retry_policy() (default: `hipercow_magic.options.retry`,
            no retries unless set; False: none).
        imports: names the code reads whose values come from other tasks' exports,
            `{name: task}`, loaded where the task runs once those tasks succeed (they
            become dependencies); for chaining tasks without waiting for their values.
        first_line: the line number of the code's first line where it was written (2 for
            a notebook cell's body under its `%%hipercow` line), so the task's traceback
            numbers lines as the user sees them.
        reuse: True to return an earlier task with the same code and inputs (see above)
            when there is one; "rerun" to create a new task all the same, which later
            calls with reuse=True then return; False (the default) for neither.

    Returns:
        The new task's handle (or the reused one's); `task.reused` and `task.attached`
        say which.

    Raises:
        HipercowError: something the task needs can't be found or sent (the message names
            it), or an option is invalid; no task is created then. Also when submitting
            fails, after the task is created (it keeps status 'created').
    """
    if not (isinstance(reuse, bool) or reuse == "rerun"):
        raise HipercowError(f"'reuse' must be True, False or 'rerun', not {reuse!r}")
    namespace = caller_namespace(1) if namespace is None else namespace
    parents, imported = task_parents(depends_on, imports, root)
    plan = Plan(root, driver, resources, envvars, parallel, environment, parents, retry)
    fingerprint = cell_fingerprint(plan, code, namespace, imported) if reuse else None
    if fingerprint is not None and reuse is True:
        found = _reused(plan, fingerprint)
        if found is not None:
            return found
    prepared = expression_task(plan, code, namespace, name, first_line=first_line, imports=imported)
    return _create_one(plan, prepared, fingerprint)


def task_create_explicit(
    code: str,
    export: Iterable[str] = (),
    *,
    namespace: dict | None = None,
    name: str | None = None,
    environment: str = "default",
    driver=None,
    resources=None,
    envvars=None,
    parallel=None,
    root=None,
    depends_on=None,
    retry=None,
) -> Task:
    """A task running `code` with exactly the variables named in `export` (nothing else is
    looked for; hipercow's task_create_explicit).

    Args:
        code: Python statements; a final expression is the task's value.
        export: names of variables to send with the task.
        namespace: where to find them (default: the caller's globals and locals).
        name: a name shown in lists and displays.
        environment: the environment loaded before the code ('default', 'empty', or one
            made with hipercow_environment_create()).
        driver: the driver to submit to: None for the one configured (or none), False to
            create without submitting (then task_submit()), or a driver's name.
        resources: what the task asks for, from hipercow_resources() (default: one core on
            the default queue).
        envvars: environment variables for the task, from hipercow_envvars().
        parallel: how a multi-core task uses its cores, from hipercow_parallel().
        root: the hipercow root (default: found from the working directory).
        depends_on: tasks that must succeed before this one starts: Task handles, Bundles
            (all their tasks), task ids or their first 4+ characters. If one of them fails
            or is cancelled, this task ends 'cancelled' with the reason.
        retry: retry the task automatically when it fails, growing what it asks for
            (tasks cancelled for waiting on it then run again, waiting for the retry): a
            policy from hipercow_retry_policy() (default: `hipercow_magic.options.retry`,
            no retries unless set; False: none).

    Returns:
        The new task's handle.

    Raises:
        HipercowError: something the task needs can't be found or sent (the message names
            it), or an option is invalid; no task is created then. Also when submitting
            fails, after the task is created (it keeps status 'created').
    """
    namespace = caller_namespace(1) if namespace is None else namespace
    parents, _ = task_parents(depends_on, None, root)
    plan = Plan(root, driver, resources, envvars, parallel, environment, parents, retry)
    return _create_one(
        plan, expression_task(plan, code, namespace, name, kind="explicit", export=list(export))
    )


def task_create_call(
    fn,
    args=(),
    kwargs=None,
    *,
    name: str | None = None,
    environment: str = "default",
    driver=None,
    resources=None,
    envvars=None,
    parallel=None,
    root=None,
    depends_on=None,
    retry=None,
) -> Task:
    """A task calling `fn(*args, **kwargs)`; its value is what `fn` returns.

    Args:
        fn: the function (pickled by reference when it lives in an importable module, by
            value when defined in the notebook).
        args: positional arguments, a list or tuple.
        kwargs: named arguments, a dict.
        name: a name shown in lists and displays.
        environment: the environment loaded before the code ('default', 'empty', or one
            made with hipercow_environment_create()).
        driver: the driver to submit to: None for the one configured (or none), False to
            create without submitting (then task_submit()), or a driver's name.
        resources: what the task asks for, from hipercow_resources() (default: one core on
            the default queue).
        envvars: environment variables for the task, from hipercow_envvars().
        parallel: how a multi-core task uses its cores, from hipercow_parallel().
        root: the hipercow root (default: found from the working directory).
        depends_on: tasks that must succeed before this one starts: Task handles, Bundles
            (all their tasks), task ids or their first 4+ characters. If one of them fails
            or is cancelled, this task ends 'cancelled' with the reason.
        retry: retry the task automatically when it fails, growing what it asks for
            (tasks cancelled for waiting on it then run again, waiting for the retry): a
            policy from hipercow_retry_policy() (default: `hipercow_magic.options.retry`,
            no retries unless set; False: none).

    Returns:
        The new task's handle.

    Raises:
        HipercowError: something the task needs can't be found or sent (the message names
            it), or an option is invalid; no task is created then. Also when submitting
            fails, after the task is created (it keeps status 'created').
    """
    if not isinstance(args, (list, tuple)):
        raise HipercowError("'args' must be a list or tuple")
    parents, _ = task_parents(depends_on, None, root)
    plan = Plan(root, driver, resources, envvars, parallel, environment, parents, retry)
    return _create_one(plan, call_task(plan, fn, tuple(args), kwargs or {}, name))


def task_create_script(
    path: str,
    chdir: bool = False,
    *,
    name: str | None = None,
    environment: str = "default",
    driver=None,
    resources=None,
    envvars=None,
    parallel=None,
    root=None,
    depends_on=None,
    retry=None,
) -> Task:
    """A task running a Python script that lies inside the root (where the cluster sees it).

    Args:
        path: the script, absolute or relative to the working directory.
        chdir: run it in the script's own folder (default: the working directory the task
            was created from).
        name: a name shown in lists and displays.
        environment: the environment loaded before the code ('default', 'empty', or one
            made with hipercow_environment_create()).
        driver: the driver to submit to: None for the one configured (or none), False to
            create without submitting (then task_submit()), or a driver's name.
        resources: what the task asks for, from hipercow_resources() (default: one core on
            the default queue).
        envvars: environment variables for the task, from hipercow_envvars().
        parallel: how a multi-core task uses its cores, from hipercow_parallel().
        root: the hipercow root (default: found from the working directory).
        depends_on: tasks that must succeed before this one starts: Task handles, Bundles
            (all their tasks), task ids or their first 4+ characters. If one of them fails
            or is cancelled, this task ends 'cancelled' with the reason.
        retry: retry the task automatically when it fails, growing what it asks for
            (tasks cancelled for waiting on it then run again, waiting for the retry): a
            policy from hipercow_retry_policy() (default: `hipercow_magic.options.retry`,
            no retries unless set; False: none).

    Returns:
        The new task's handle.

    Raises:
        HipercowError: the script does not exist, lies outside the root, or has a syntax
            error; or an option is invalid.
    """
    parents, _ = task_parents(depends_on, None, root)
    plan = Plan(root, driver, resources, envvars, parallel, environment, parents, retry)
    return _create_one(plan, script_task(plan, path, chdir, name))


def task_submit(ids, driver=None, resources=None, root=None) -> None:
    """Submit tasks that were created without a driver (or whose submission failed).

    Args:
        ids: a task id or Task handle, a list of them, or a Bundle.
        driver: the driver to submit to (default: the one configured).
        resources: what the tasks ask for, from hipercow_resources() (default: one core on
            the driver's default queue).
        root: the hipercow root (default: found from the working directory).

    Raises:
        HipercowError: a task does not exist or was already submitted, no driver is
            configured, or submitting failed.
    """
    root = find_root(root)
    ids, _ = task_ids(ids)
    check_exists(root, ids)
    name = require_driver(root, driver)
    not_created = [i for i in ids if marker_status(root, i) != "created"]
    if not_created:
        raise HipercowError(
            f"Task '{not_created[0]}' has already been submitted "
            f"(status '{marker_status(root, not_created[0])}')"
        )
    res = (
        validate_resources(resources, load_driver(root, name).cluster_info()) if resources else None
    )
    submit_tasks(root, ids, name, res)
    print(
        f"✔ Submitted task '{ids[0]}' using '{name}'"
        if len(ids) == 1
        else f"✔ Submitted {len(ids)} tasks using '{name}'"
    )


def task_why(task, root=None) -> str:
    """Why a task ran rather than reusing an earlier task of the same cell: which of its
    inputs changed since then ("the value of `beta` changed", "function `helper` changed",
    "module analysis/model.py changed", "the code changed", "the environment changed"),
    or that there was no earlier task of the cell; and whether unchanged runs of the cell
    now reuse it.

    Args:
        task: a task id, its first 4 or more characters, or a Task handle.
        root: the hipercow root (default: found from the working directory).

    Returns:
        The explanation, as lines of text.

    Raises:
        HipercowError: there is no such task, or its record can't be read.
    """
    root = find_root(getattr(task, "root", None) if root is None else root)
    task_id = resolve_task_id(task, root)
    check_exists(root, [task_id])
    return explain(root, task_id)
