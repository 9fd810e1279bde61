"""Creating tasks (every kind) and submitting them to a driver."""

from __future__ import annotations

import builtins
import errno
import json
import os
import platform
import shutil
import socket
import sys
import time
import tokenize

from hipercow_magic.core import capture, signing, store
from hipercow_magic.core.environment import (
    NODE_GLOBALS,
    environment_globals,
    read_environment,
)
from hipercow_magic.core.envvars import EnvVars, prepare_envvars, serialise
from hipercow_magic.core.errors import HipercowError, warn
from hipercow_magic.core.options import options
from hipercow_magic.core.parallel import Parallel, validate_parallel
from hipercow_magic.core.resources import Resources, validate_resources
from hipercow_magic.core.retry_policy import RetryPolicy, chosen_policy
from hipercow_magic.core.root import find_root
from hipercow_magic.core.task import new_id
from hipercow_magic.core.versions import creation_versions
from hipercow_magic.drivers.registry import load_driver, select_driver
from hipercow_magic.engine.bulk_rows import row_summary, summarise_value
from hipercow_magic.engine.dependencies import check_parents
from hipercow_magic.engine.submit import submit_tasks


class Plan:
    """Everything shared by the tasks of one creation call, checked before any file is written.

    `depends_on` holds (root path of a handle or None, full task id) pairs: the tasks that
    must succeed before these start. `retry`: the `retry=` of task_create_* (None: the
    default policy: options.retry, else the one the driver's configuration keeps).
    """

    def __init__(
        self, root, driver, resources, envvars, parallel, environment, depends_on=(), retry=None
    ):
        self.root = find_root(root)
        self.depends_on = check_parents(self.root, list(depends_on))
        try:
            self.driver = select_driver(self.root, driver)
        except HipercowError as e:
            raise HipercowError(f"Can't submit task because unable to select driver\n{e}") from None
        loaded = load_driver(self.root, self.driver) if self.driver is not None else None
        configured = loaded.config.get("retry_policy") if loaded is not None else None
        default = options.retry or (RetryPolicy.from_dict(configured) if configured else None)
        policy = chosen_policy(retry, default)
        if loaded is not None:
            self.resources = validate_resources(resources, loaded.cluster_info())
        else:
            if resources is not None:
                warn("Resources given but no driver selected, so not validating")
            self.resources = resources
        if resources is not None and not isinstance(resources, Resources):
            raise HipercowError("'resources' must come from hipercow_resources()")
        if parallel is not None and not isinstance(parallel, Parallel):
            raise HipercowError("'parallel' must come from hipercow_parallel()")
        cores = self.resources.cores if self.resources else 1
        self.parallel = validate_parallel(parallel, cores)
        if envvars is not None and not isinstance(envvars, EnvVars):
            raise HipercowError("'envvars' must come from hipercow_envvars()")
        driver_defaults = loaded.default_envvars if loaded is not None else None
        self.envvars = serialise(prepare_envvars(envvars, driver_defaults, options.default_envvars))
        self.environment = environment
        read_environment(self.root, environment)
        if self.parallel is not None and self.parallel.environment is not None:
            read_environment(self.root, self.parallel.environment)
        self.globals = environment_globals(self.root, environment) | NODE_GLOBALS
        if self.parallel is not None and self.parallel.environment is not None:
            self.globals |= environment_globals(self.root, self.parallel.environment)
        self.path = self.root.relative_workdir()
        self.shared = {
            "path": self.path,
            "environment": self.environment,
            "envvars": self.envvars,
            "parallel": self.parallel.to_dict() if self.parallel else None,
            "resources": self.resources.to_dict() if self.resources else None,
            "driver": self.driver,
            **creation_versions(),
            "hostname": socket.gethostname(),
            "platform": platform.platform(),
        }
        if self.depends_on:
            self.shared["depends_on"] = self.depends_on
        if policy is not None:
            self.shared["retry_policy"] = policy.to_dict()

    def data(self, task_id: str, kind: str, **fields) -> dict:
        """A task's data.json: what is shared by this creation call, plus its own fields."""
        return {"id": task_id, "type": kind, "created": time.time(), **self.shared, **fields}

    def write(self, task_id: str, data: dict, locals_blob: bytes | None) -> None:
        """Write a task's files; data.json last, so a task exists only once it is whole."""
        folder = self.root.task_dir(task_id)
        try:
            os.makedirs(folder)
        except OSError as e:
            raise _write_error(folder, e) from None
        try:
            if locals_blob is not None:
                signed = signing.sign(locals_blob, "locals.pkl", task_id)
                store.write_bytes(os.path.join(folder, "locals.pkl"), signed)
            record = json.dumps(signing.sign_record(data, task_id), default=str).encode()
            # modified when created, to the nanosecond: listings order tasks by it
            store.write_bytes(os.path.join(folder, "data.json"), record, mtime=data["created"])
        except BaseException as e:
            shutil.rmtree(folder, ignore_errors=True)
            if isinstance(e, OSError):
                raise _write_error(folder, e) from None
            raise

    def submit(self, ids: list[str]) -> None:
        """Submit written tasks to the plan's driver (nothing without one)."""
        if self.driver is not None and ids:
            submit_tasks(self.root, ids, self.driver, self.resources, self.depends_on)


def _write_error(folder: str, e: OSError) -> HipercowError:
    """The HipercowError for a task folder that could not be written."""
    if isinstance(e, PermissionError):
        return store.permission_error(folder, "writing")
    if e.errno == errno.ENAMETOOLONG:
        return store.path_too_long(folder)
    why = e.strerror or str(e)
    hint = ""
    if e.errno == errno.ENOSPC or e.errno == errno.EDQUOT:
        hint = "\nFree some space (or raise your quota) and create the task again."
    return HipercowError(f"Can't write the task's files in '{folder}': {why}{hint}")


def caller_namespace(depth: int) -> dict:
    """The globals and locals of the frame `depth` levels above the caller."""
    frame = sys._getframe(depth + 1)
    return {**frame.f_globals, **frame.f_locals}


def capture_names(analysis: capture.CodeAnalysis, namespace: dict, skip: set[str]) -> dict:
    """The values the code needs: every required name must exist, optional ones if present."""
    values = {}
    missing = []
    for name in analysis.required:
        if name in skip:
            continue
        if name in namespace:
            values[name] = namespace[name]
        else:
            missing.append(name)
    if missing:
        quoted = ", ".join(f"'{m}'" for m in missing)
        raise HipercowError(
            f"Could not find variable{'s' if len(missing) > 1 else ''} {quoted} used by the "
            "task's code\nDefine it before creating the task (or pass it in 'namespace')."
        )
    for name in analysis.optional:
        if name not in skip and name in namespace:
            values[name] = namespace[name]
    for name in analysis.builtins:  # a builtin the caller redefined (`len = ...`) is sent
        if name in skip or name in _NOT_SHADOWS or name not in namespace:
            continue
        if namespace[name] is not getattr(builtins, name, None):
            values[name] = namespace[name]
    return values


_NOT_SHADOWS = frozenset({"exit", "quit", "help", "copyright", "credits", "license"})
# what IPython and `site` put in a notebook's namespace in place of the builtins


def expression_task(
    plan: Plan,
    code: str,
    namespace: dict,
    name: str | None = None,
    extra: dict | None = None,
    kind: str = "expression",
    export: list[str] | None = None,
    first_line: int = 1,
    imports: dict[str, str] | None = None,
) -> tuple[str, dict, bytes]:
    """Prepare one expression (or explicit) task: its id, data and packed locals.

    `imports` maps names the code reads to the tasks (among the plan's dependencies) whose
    exports give their values on the node: they are not captured here.
    """
    placed = _first_line(first_line)
    imported = _imports_field(plan, imports)
    if kind == "explicit":
        capture.parse_code(code)
        missing = [n for n in export or [] if n not in namespace]
        if missing:
            raise HipercowError(f"Could not find variable(s) {missing} named in 'export'")
        values = {n: namespace[n] for n in export or []}
        analysis = capture.analyse_code(code)
    else:
        analysis = capture.analyse_code(code)
        skip = plan.globals | set(imports or {})
        values = capture_names(analysis, {**namespace, **(extra or {})}, skip)
    entries, sizes = capture.pickle_values(values, options.max_size_local)
    task_id = new_id()
    data = plan.data(
        task_id,
        kind,
        code=code,
        name=name,
        locals=list(values),
        locals_sizes=sizes,
        exports=analysis.exports,
        has_result=analysis.has_result,
        **placed,
        **imported,
    )
    return task_id, data, capture.pack(entries)


def _imports_field(plan: Plan, imports: dict[str, str] | None) -> dict:
    """The data field naming where imported names come from (nothing without imports)."""
    if not imports:
        return {}
    for name, task_id in imports.items():
        if not name.isidentifier():
            raise HipercowError(f"'imports' names variables: '{name}' is not a variable name")
        if task_id not in plan.depends_on:
            raise HipercowError(
                f"'{name}' is imported from task '{task_id}', which the task does not depend on"
            )
    return {"imports": dict(imports)}


def call_description(fn) -> str:
    """How a call task names its function: 'module.qualname' ('(anonymous)' for a lambda)."""
    module = getattr(fn, "__module__", None)
    qualname = getattr(fn, "__qualname__", None) or repr(fn)
    if qualname == "<lambda>":
        return "(anonymous)"
    return f"{module}.{qualname}" if module and module != "__main__" else qualname


def call_task(
    plan: Plan, fn, args: tuple, kwargs: dict, name: str | None = None, row: dict | None = None
):
    """Prepare one call task: its id, data and packed call; `row`: a bundle row's
    parameters, kept for displays.
    """
    if not callable(fn):
        raise HipercowError(f"'fn' must be callable, not {type(fn).__name__}")
    entries, sizes = capture.pickle_values(
        {"call": {"fn": fn, "args": tuple(args), "kwargs": dict(kwargs)}}, options.max_size_local
    )
    task_id = new_id()
    shown = [summarise_value(a) for a in args] + [
        f"{k} = {summarise_value(v)}" for k, v in kwargs.items()
    ]
    data = plan.data(
        task_id, "call", name=name, call=call_description(fn), args=shown, locals_sizes=sizes
    )
    if row is not None:
        data["row"] = row_summary(row)
    return task_id, data, capture.pack(entries)


def read_script(full: str, shown: str) -> str:
    """A script's text read as Python reads it: a UTF-8 BOM or a `coding:` line is honoured;
    bytes that are not in its encoding are a HipercowError.
    """
    try:
        with tokenize.open(full) as f:
            return f.read()
    except (SyntaxError, UnicodeDecodeError) as e:
        why = e.msg if isinstance(e, SyntaxError) else str(e)
        raise HipercowError(
            f"Can't read script '{shown}': {why}\n"
            "Save it as UTF-8, or declare its encoding on its first or second line "
            "(# -*- coding: latin-1 -*-), as Python requires."
        ) from None
    except PermissionError:
        raise store.permission_error(full, "reading") from None


def script_task(plan: Plan, path: str, chdir: bool, name: str | None = None):
    """Prepare one script task (a Python file inside the root): its id and data."""
    full = os.path.realpath(path)
    if not os.path.isfile(full):
        raise HipercowError(f"Script '{path}' does not exist")
    rel = plan.root.relative(full)
    if rel is None:
        raise HipercowError(
            f"Script '{path}' is not inside the hipercow root '{plan.root.path}'\n"
            "Move it into the root, where the cluster can see it."
        )
    capture.parse_code(read_script(full, path), filename=path)
    task_id = new_id()
    return task_id, plan.data(task_id, "script", name=name, script=rel, chdir=bool(chdir)), None


def write_tasks(plan: Plan, prepared: list[tuple[str, dict, bytes | None]]) -> list[str]:
    """Write prepared tasks; if any write fails, remove those already written."""
    written = []
    try:
        for task_id, data, blob in prepared:
            plan.write(task_id, data, blob)
            written.append(task_id)
    except BaseException:
        for task_id in written:
            shutil.rmtree(plan.root.task_dir(task_id), ignore_errors=True)
        raise
    return written


def _first_line(first_line: int) -> dict:
    """The data field placing the code's first line where the user wrote it (tracebacks on
    the node then number lines as the notebook shows them); nothing for line 1.
    """
    if isinstance(first_line, bool) or not isinstance(first_line, int) or first_line < 1:
        raise HipercowError(f"'first_line' must be a whole number from 1, not {first_line!r}")
    return {"code_first_line": first_line} if first_line != 1 else {}


def bulk_expression_tasks(
    plan: Plan,
    code: str,
    rows: list[dict],
    namespace: dict,
    first_line: int = 1,
    imports: dict[str, str] | None = None,
) -> list:
    """Prepare one expression task per row: the names the code reads from the caller are
    pickled once and shared; a row's keys become variables of that task; `imports` as for
    `expression_task`.
    """
    placed = _first_line(first_line)
    imported = _imports_field(plan, imports)
    analysis = capture.analyse_code(code)
    row_names = set().union(*(r.keys() for r in rows))
    shared = capture_names(analysis, namespace, plan.globals | row_names | set(imports or {}))
    shared_entries, shared_sizes = capture.pickle_values(shared, options.max_size_local)
    prepared = []
    for row in rows:
        row_entries, row_sizes = capture.pickle_values(row, options.max_size_local)
        task_id = new_id()
        names = list(shared) + [n for n in row if n not in shared]
        task_data = plan.data(
            task_id,
            "expression",
            code=code,
            name=None,
            locals=names,
            locals_sizes={**shared_sizes, **row_sizes},
            exports=analysis.exports,
            has_result=analysis.has_result,
            row=row_summary(row),
            **placed,
            **imported,
        )
        prepared.append((task_id, task_data, capture.pack({**shared_entries, **row_entries})))
    return prepared
