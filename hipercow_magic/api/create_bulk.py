"""Creating one task per row of data, grouped in a bundle (hipercow's task_create_bulk_*)."""

from __future__ import annotations

from hipercow_magic.api.bundles import Bundle
from hipercow_magic.api.parents import task_parents
from hipercow_magic.core.errors import HipercowError
from hipercow_magic.engine.bulk_rows import bulk_rows, first_parameter
from hipercow_magic.engine.bundles import bundle_save, random_bundle_name
from hipercow_magic.engine.create import (
    Plan,
    bulk_expression_tasks,
    call_task,
    caller_namespace,
    write_tasks,
)


def _bulk(plan: Plan, prepared: list, bundle_name: str | None) -> Bundle:
    ids = write_tasks(plan, prepared)
    name = bundle_name or random_bundle_name()
    bundle_save(plan.root, name, ids)
    bundle = Bundle(name, ids, plan.root)
    plan.submit(ids)
    return bundle


def task_create_bulk_expr(
    code: str,
    data,
    *,
    namespace: dict | None = None,
    bundle_name: str | None = None,
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
) -> Bundle:
    """One expression task per row of `data`, grouped in a bundle; a row's keys become
    variables of the code, and the other names it reads are captured once for all tasks.

    Args:
        code: Python statements; a final expression is each task's value.
        data: rows with names: a list of dicts, a dict of equal-length lists, or a pandas
            DataFrame.
        namespace: where to find the other names the code reads (default: the caller's).
        bundle_name: the bundle's name (default: a random one).
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
        retry: retry each task automatically when it fails (each on its own, the others
            left as they are), growing what it asks for: a policy from
            hipercow_retry_policy() (default: `hipercow_magic.options.retry`,
            no retries unless set; False: none).
        imports: names the code reads whose values come from other tasks' exports,
            `{name: task}`, loaded where the task runs once those tasks succeed (they
            become dependencies); for chaining tasks without waiting for their values.
        first_line: the line number of the code's first line where it was written (2 for
            a notebook cell's body under its `%%hipercow` line), so the task's traceback
            numbers lines as the user sees them.

    Returns:
        The bundle of the new tasks, in the order of the rows.

    Raises:
        HipercowError: something the task needs can't be found or sent (the message names
            it), or an option is invalid; no task is created then. Also when submitting
            fails, after the task is created (it keeps status 'created').
    """
    namespace = caller_namespace(1) if namespace is None else namespace
    rows = bulk_rows(data)
    if not all(isinstance(r, dict) for r in rows):
        raise HipercowError(
            "'data' for task_create_bulk_expr must be rows with names: a list of dicts, a dict "
            "of lists or a DataFrame"
        )
    parents, imported = task_parents(depends_on, imports, root)
    plan = Plan(root, driver, resources, envvars, parallel, environment, parents, retry)
    prepared = bulk_expression_tasks(plan, code, rows, namespace, first_line, imported)
    return _bulk(plan, prepared, bundle_name)


def task_create_bulk_call(
    fn,
    data,
    args=None,
    *,
    bundle_name: str | None = None,
    environment: str = "default",
    driver=None,
    resources=None,
    envvars=None,
    parallel=None,
    root=None,
    depends_on=None,
    retry=None,
) -> Bundle:
    """One call task per element of `data`, grouped in a bundle: `fn(element, **args)`, or
    `fn(**row, **args)` for rows with names.

    Args:
        fn: the function to call.
        data: a list (each element the first argument), or rows with names (a list of dicts,
            a dict of equal-length lists, a pandas DataFrame) giving named arguments.
        args: named arguments shared by every call, a dict.
        bundle_name: the bundle's name (default: a random one).
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
        retry: retry each task automatically when it fails (each on its own, the others
            left as they are), growing what it asks for: a policy from
            hipercow_retry_policy() (default: `hipercow_magic.options.retry`,
            no retries unless set; False: none).

    Returns:
        The bundle of the new tasks, in the order of `data`.

    Raises:
        HipercowError: something the task needs can't be found or sent (the message names
            it), or an option is invalid; no task is created then. Also when submitting
            fails, after the task is created (it keeps status 'created').
    """
    rows = bulk_rows(data)
    if args is not None and not isinstance(args, dict):
        raise HipercowError("'args' must be a dict of named arguments shared by every call")
    parents, _ = task_parents(depends_on, None, root)
    plan = Plan(root, driver, resources, envvars, parallel, environment, parents, retry)
    prepared = []
    parameter = first_parameter(fn)
    for row in rows:
        if isinstance(row, dict):
            prepared.append(call_task(plan, fn, (), {**row, **(args or {})}, row=row))
        else:
            prepared.append(call_task(plan, fn, (row,), dict(args or {}), row={parameter: row}))
    return _bulk(plan, prepared, bundle_name)
