"""The public API: every front end (magic, widgets, CLI, server) calls these functions."""

from __future__ import annotations

import os
import sys
import time
import warnings
from typing import TYPE_CHECKING, Iterable

from . import __version__, capture, store
from .configure import configure_driver, load_driver, require_driver, unconfigure_driver
from .drivers.base import available_drivers
from .envvars import hipercow_envvars  # noqa: F401  (part of the public API)
from .errors import HipercowError, TaskNotFinishedError, TaskWaitTimeout
from .options import options
from .parallel import hipercow_parallel  # noqa: F401
from .resources import hipercow_resources  # noqa: F401
from .retry import follow_ids, retry_chain, retry_tasks
from .root import check_task_id, find_root, init_root
from .task import (TERMINAL, collect_times, marker_status, read_data, read_log, read_marker,
                   result_value, task_exists)
from .task_create import (Plan, bulk_rows, call_task, caller_namespace, capture_names,
                          expression_task, random_bundle_name, script_task, submit_tasks,
                          write_tasks)
from .details import TaskInfo

if TYPE_CHECKING:
    from .bundle import Bundle
    from .root import Root


# ---- handles ----------------------------------------------------------------------------
class Task:
    """A handle on one task, offering the task functions as methods."""

    def __init__(self, task_id: str, root=None):
        self.id = check_task_id(task_id)
        self.root = find_root(root)

    def __repr__(self) -> str:
        return f"<hipercow task {self.id} ({self.status()})>"

    def __eq__(self, other) -> bool:
        return isinstance(other, Task) and other.id == self.id and other.root == self.root

    def __hash__(self) -> int:
        return hash(self.id)

    def status(self, follow=True):
        return task_status(self.id, follow=follow, root=self.root)

    def info(self, follow=True):
        return task_info(self.id, follow=follow, root=self.root)

    def result(self, follow=True):
        return task_result(self.id, follow=follow, root=self.root)

    def exports(self, follow=True):
        return task_exports(self.id, follow=follow, root=self.root)

    def log(self, outer=False, follow=True):
        return task_log_value(self.id, outer=outer, follow=follow, root=self.root)

    def wait(self, timeout=None, for_start=False, progress=False, follow=True):
        return task_wait(self.id, timeout=timeout, for_start=for_start, progress=progress,
                         follow=follow, root=self.root)

    def cancel(self, follow=True):
        return task_cancel(self.id, follow=follow, root=self.root)

    def retry(self, driver=None, resources=None):
        return task_retry(self.id, driver=driver, resources=resources, root=self.root)


def _ids(ids) -> tuple[list[str], bool]:
    """Normalise one id/handle or many; returns (ids, was_scalar)."""
    if isinstance(ids, (str, Task)):
        return [check_task_id(ids)], True
    if hasattr(ids, "ids") and hasattr(ids, "name"):  # a Bundle
        return list(ids.ids), False
    return [check_task_id(i) for i in ids], False


def _one(task_id, follow: bool, root) -> tuple:
    """(root, id) for one task id or handle, following its retry chain if asked."""
    root = find_root(root)
    task_id = check_task_id(task_id)
    if follow:
        task_id = follow_ids(root, [task_id])[0]
    return root, task_id


def _submitted_driver(root, task_id: str):
    """The configured driver a task was submitted to, or None."""
    name = read_marker(root, task_id, "submitted").get("driver")
    if not name or root.driver_config(name) is None:
        return None
    return load_driver(root, name)


def _check_exists(root, ids: list[str]) -> None:
    for task_id in ids:
        if not task_exists(root, task_id):
            raise HipercowError(f"Task '{task_id}' does not exist in the root at '{root.path}'")


# ---- root and configuration ----------------------------------------------------------
def hipercow_init(path: str = ".", driver: str | None = None, **options_) -> "Root":
    """Create a hipercow root at `path` (and configure `driver` if given)."""
    root, created = init_root(path)
    shown = f"'{path}'" + ("" if os.path.isabs(path) else f" ({root.path})")
    print(f"✔ Initialised hipercow at {shown}" if created
          else f"ℹ hipercow already initialised at {shown}")
    if driver is None:
        if options_:
            print("! `driver` was not specified, but extra args were detected.")
        print("ℹ Next, call 'hipercow_configure()'")
        return root
    try:
        print("✔ " + configure_driver(root, driver, **options_))
    except HipercowError as e:
        raise HipercowError(f"Configuration failed\n{e}") from None
    return root


def hipercow_configure(driver: str, root=None, **options_) -> None:
    """Configure `driver` for this root (e.g. 'local', 'slurm'; 'example' = the seed's cluster)."""
    print("✔ " + configure_driver(find_root(root), driver, **options_))


def hipercow_unconfigure(driver: str, root=None) -> None:
    print(unconfigure_driver(find_root(root), driver))


def hipercow_configuration(show: bool = True, root=None) -> dict:
    """Paths, versions, configured drivers and environments of this root."""
    import cloudpickle
    import platform

    from .environment import hipercow_environment_list

    root = find_root(root)
    info = {
        "hipercow_magic": __version__,
        "python": platform.python_version(),
        "cloudpickle": cloudpickle.__version__,
        "platform": platform.platform(),
        "root": root.path,
        "working_directory": os.getcwd(),
        "drivers": {name: root.driver_config(name) for name in root.configured_drivers()},
        "available_drivers": available_drivers(),
        "environments": hipercow_environment_list(root=root),
    }
    if show:
        print("── hipercow-magic configuration ──")
        for key in ("hipercow_magic", "python", "cloudpickle", "platform", "root",
                    "working_directory"):
            print(f"  • {key}: {info[key]}")
        print(f"  • environments: {', '.join(info['environments'])}")
        if not info["drivers"]:
            print("  • drivers: (none configured)")
        for name, config in info["drivers"].items():
            print(f"  • driver '{name}':")
            for k, v in config.items():
                print(f"      {k}: {v}")
    return info


def hipercow_cluster_info(driver: str | None = None, root=None):
    """The configured cluster's resources: nodes, cores, memory, queues (printable)."""
    root = find_root(root)
    return load_driver(root, require_driver(root, driver)).cluster_info()


def hipercow_hello(timeout: float | None = 60, driver=None, root=None):
    """Run a small test task on the cluster and report how it went."""
    root = find_root(root)
    name = require_driver(root, driver)
    task = task_create_expr('print("Moo")\n"Moo"', namespace={}, driver=name, root=root,
                            name="hello")
    ok = task.wait(timeout=timeout)
    if ok:
        print(f"✔ Successfully ran test task '{task.id}'")
        return task.result()
    status = task.status()
    message = f"Failed to run test task\nTask status is '{status}'"
    if status == "failure":
        message += f"\nOriginal error: {task.result()}"
    raise HipercowError(message)


# ---- creating tasks -------------------------------------------------------------------
def _create_one(plan: Plan, prepared) -> Task:
    write_tasks(plan, [prepared])
    task = Task(prepared[0], plan.root)
    plan.submit([task.id])
    return task


def task_create_expr(code: str, *, namespace: dict | None = None, name: str | None = None,
                     environment: str = "default", driver=None, resources=None, envvars=None,
                     parallel=None, root=None) -> Task:
    """A task running Python `code`; the names it reads are captured from the caller."""
    namespace = caller_namespace(1) if namespace is None else namespace
    plan = Plan(root, driver, resources, envvars, parallel, environment)
    return _create_one(plan, expression_task(plan, code, namespace, name))


def task_create_explicit(code: str, export: Iterable[str] = (), *, namespace: dict | None = None,
                         name: str | None = None, environment: str = "default", driver=None,
                         resources=None, envvars=None, parallel=None, root=None) -> Task:
    """A task running `code` with exactly the variables named in `export`."""
    namespace = caller_namespace(1) if namespace is None else namespace
    plan = Plan(root, driver, resources, envvars, parallel, environment)
    return _create_one(plan, expression_task(plan, code, namespace, name, kind="explicit",
                                             export=list(export)))


def task_create_call(fn, args=(), kwargs=None, *, name: str | None = None,
                     environment: str = "default", driver=None, resources=None, envvars=None,
                     parallel=None, root=None) -> Task:
    """A task calling `fn(*args, **kwargs)`."""
    if not isinstance(args, (list, tuple)):
        raise HipercowError("'args' must be a list or tuple")
    plan = Plan(root, driver, resources, envvars, parallel, environment)
    return _create_one(plan, call_task(plan, fn, tuple(args), kwargs or {}, name))


def task_create_script(path: str, chdir: bool = False, *, name: str | None = None,
                       environment: str = "default", driver=None, resources=None, envvars=None,
                       parallel=None, root=None) -> Task:
    """A task running a Python script inside the root."""
    plan = Plan(root, driver, resources, envvars, parallel, environment)
    return _create_one(plan, script_task(plan, path, chdir, name))


def _bulk(plan: Plan, prepared: list, bundle_name: str | None) -> "Bundle":
    from .bundle import Bundle, bundle_save

    ids = write_tasks(plan, prepared)
    name = bundle_name or random_bundle_name()
    bundle_save(plan.root, name, ids)
    bundle = Bundle(name, ids, plan.root)
    plan.submit(ids)
    return bundle


def task_create_bulk_expr(code: str, data, *, namespace: dict | None = None,
                          bundle_name: str | None = None, environment: str = "default",
                          driver=None, resources=None, envvars=None, parallel=None,
                          root=None) -> "Bundle":
    """One expression task per row of `data`; a row's keys become variables of the code."""
    namespace = caller_namespace(1) if namespace is None else namespace
    rows = bulk_rows(data)
    if not all(isinstance(r, dict) for r in rows):
        raise HipercowError(
            "'data' for task_create_bulk_expr must be rows with names: a list of dicts, a dict "
            "of lists or a DataFrame"
        )
    plan = Plan(root, driver, resources, envvars, parallel, environment)
    analysis = capture.analyse_code(code)
    row_names = set().union(*(r.keys() for r in rows))
    shared = capture_names(analysis, namespace, plan.globals | row_names)
    shared_entries, shared_sizes = capture.pickle_values(shared, options.max_size_local)
    prepared = []
    from .task import new_id

    for row in rows:
        row_entries, row_sizes = capture.pickle_values(row, options.max_size_local)
        task_id = new_id()
        names = list(shared) + [n for n in row if n not in shared]
        task_data = plan.data(task_id, "expression", code=code, name=None, locals=names,
                              locals_sizes={**shared_sizes, **row_sizes},
                              exports=analysis.exports, has_result=analysis.has_result)
        prepared.append((task_id, task_data, capture.pack({**shared_entries, **row_entries})))
    return _bulk(plan, prepared, bundle_name)


def task_create_bulk_call(fn, data, args=None, *, bundle_name: str | None = None,
                          environment: str = "default", driver=None, resources=None,
                          envvars=None, parallel=None, root=None) -> "Bundle":
    """One call per element of `data` (positional) or row (named arguments); `args` shared."""
    rows = bulk_rows(data)
    if args is not None and not isinstance(args, dict):
        raise HipercowError("'args' must be a dict of named arguments shared by every call")
    plan = Plan(root, driver, resources, envvars, parallel, environment)
    prepared = []
    for row in rows:
        if isinstance(row, dict):
            prepared.append(call_task(plan, fn, (), {**row, **(args or {})}))
        else:
            prepared.append(call_task(plan, fn, (row,), dict(args or {})))
    return _bulk(plan, prepared, bundle_name)


def task_submit(ids, driver=None, resources=None, root=None) -> None:
    """Submit tasks that were created without a driver (or whose submission failed)."""
    root = find_root(root)
    ids, _ = _ids(ids)
    _check_exists(root, ids)
    name = require_driver(root, driver)
    not_created = [i for i in ids if marker_status(root, i) != "created"]
    if not_created:
        raise HipercowError(f"Task '{not_created[0]}' has already been submitted "
                            f"(status '{marker_status(root, not_created[0])}')")
    from .resources import validate_resources

    res = validate_resources(resources, load_driver(root, name).cluster_info()) if resources \
        else None
    submit_tasks(root, ids, name, res)
    print(f"✔ Submitted task '{ids[0]}' using '{name}'" if len(ids) == 1
          else f"✔ Submitted {len(ids)} tasks using '{name}'")


# ---- looking at tasks ---------------------------------------------------------------
def _statuses(root, ids: list[str]) -> list[str | None]:
    """Cheap first: cached terminal states, marker files, then one driver call per driver."""
    out = [marker_status(root, i) for i in ids]
    active = [k for k, s in enumerate(out) if s in ("submitted", "running")]
    if not active or os.environ.get("HIPERCOW_NO_DRIVERS") == "1":
        return out
    by_driver: dict[str, list[int]] = {}
    for k in active:
        name = read_marker(root, ids[k], "submitted").get("driver")
        if name is None:
            continue  # started before its submission was recorded; markers say running
        by_driver.setdefault(name, []).append(k)
    for name, positions in by_driver.items():
        try:
            driver = load_driver(root, name)
        except HipercowError:
            continue
        for k, status in zip(positions, driver.status([ids[k] for k in positions])):
            out[k] = status
    return out


def task_status(ids, follow: bool = True, root=None):
    """Status of one task (a string) or many (a list); None for an unknown id."""
    root = find_root(root)
    ids, scalar = _ids(ids)
    if follow:
        ids = follow_ids(root, ids)
    out = _statuses(root, ids)
    return out[0] if scalar else out


def task_times(ids, root=None) -> list[dict]:
    """created / submitted / started / finished of each task, in epoch seconds."""
    root = find_root(root)
    ids, _ = _ids(ids)
    return [collect_times(root, i) for i in ids]


def task_summaries(ids, root=None) -> list[dict]:
    """One row per task for lists and panels: name, type, status, resources, times."""
    from .resources import Resources

    root = find_root(root)
    ids, _ = _ids(ids)
    statuses = _statuses(root, ids)
    rows = []
    now = time.time()
    for task_id, status in zip(ids, statuses):
        data = store.read_json_or(root.task_file(task_id, "data.json")) or {}
        times = collect_times(root, task_id)
        started, finished = times.get("started"), times.get("finished")
        created = times.get("created")
        if started is not None and created is not None:
            waited = started - created
        elif status in ("created", "submitted") and created is not None:
            waited = now - created  # still waiting
        else:
            waited = None
        rows.append({
            "id": task_id, "name": data.get("name"), "type": data.get("type"),
            "status": status, "driver": data.get("driver"),
            "resources": Resources.from_dict(data.get("resources")).summary(),
            **times, "waited": waited,
            "ran_for": None if started is None else (finished or now) - started,
        })
    return rows


def task_info(task_id, follow: bool = True, root=None) -> TaskInfo:
    """Everything known about a task, including the scheduler's view while it is active."""
    root, task_id = _one(task_id, follow, root)
    data = read_data(root, task_id)
    status = _statuses(root, [task_id])[0]
    driver = read_marker(root, task_id, "submitted").get("driver") or data.get("driver")
    scheduler = task_scheduler_info(task_id, root) if status in ("submitted", "running") else {}
    reason = read_marker(root, task_id, status).get("reason") if status in TERMINAL else None
    return TaskInfo(task_id, status, driver, data, collect_times(root, task_id),
                    retry_chain(root, task_id), scheduler, reason)


def task_scheduler_info(task_id, root=None) -> dict:
    """The scheduler's view of a submitted or running task (state, position, reason, node).

    Unlike `task_info`, this makes no status query, so a display refreshing many tasks can
    ask it for a few of them per tick; {} for a task that is not queued or running.
    """
    root, task_id = _one(task_id, False, root)
    if marker_status(root, task_id) not in ("submitted", "running"):
        return {}
    driver = _submitted_driver(root, task_id)
    return driver.info(task_id) if driver else {}


def task_result(task_id, follow: bool = True, root=None):
    """The task's value; for a failure, the exception raised on the node (with its traceback)."""
    root, task_id = _one(task_id, follow, root)
    _check_exists(root, [task_id])
    return result_value(root, task_id, _statuses(root, [task_id])[0])


def task_exports(task_id, follow: bool = True, root=None) -> dict:
    """The names a successful expression task assigned at top level, with their values."""
    root, task_id = _one(task_id, follow, root)
    status = _statuses(root, [task_id])[0]
    if status != "success":
        raise TaskNotFinishedError(
            f"Exports of task '{task_id}' not available, status is '{status}'")
    from .task import load_exports, read_result_record

    values, problems = load_exports(read_result_record(root, task_id))
    if problems:
        warnings.warn("Some of the task's values can't be loaded here, so they are left out: " +
                      "; ".join(f"'{k}' ({v})" for k, v in problems.items()), stacklevel=2)
    return values


def task_log_value(task_id, outer: bool = False, follow: bool = True, root=None) -> str | None:
    """The task's log (or the scheduler's own log with `outer=True`); None if there is none."""
    root, task_id = _one(task_id, follow, root)
    read_data(root, task_id)  # an unknown id is an error
    driver = _submitted_driver(root, task_id)
    if driver is not None:
        return driver.log(task_id, outer=outer)
    return None if outer else read_log(root, task_id)[0]


def task_log_show(task_id, outer: bool = False, follow: bool = True, root=None) -> None:
    value = task_log_value(task_id, outer=outer, follow=follow, root=root)
    if value is None:
        print(f"No logs for task '{check_task_id(task_id)}' (yet?)")
    elif not value:
        print(f"Empty logs for task '{check_task_id(task_id)}' (so far?)")
    else:
        print(value, end="" if value.endswith("\n") else "\n")


def task_log_read(task_id, offset: int = 0, root=None) -> tuple[str | None, int]:
    """Log text from byte `offset`, and the offset to read from next time (for tailing)."""
    root = find_root(root)
    return read_log(root, check_task_id(task_id), offset)


def task_log_watch(task_id, poll: float = 0.25, timeout: float | None = None,
                   follow: bool = True, root=None, out=None) -> bool | None:
    """Print the log as it grows until the task finishes; True/False, None on timeout."""
    root, task_id = _one(task_id, follow, root)
    if _statuses(root, [task_id])[0] == "created":
        raise HipercowError(f"Cannot watch logs of task '{task_id}', which not been submitted")
    out = out or sys.stdout
    offset = 0
    deadline = None if timeout is None else time.monotonic() + timeout
    try:
        while True:
            status = _statuses(root, [task_id])[0]
            text, offset = read_log(root, task_id, offset)
            if text:
                out.write(text)
                out.flush()
            if status in TERMINAL:
                return status == "success"
            if deadline is not None and time.monotonic() > deadline:
                return None
            time.sleep(poll)
    except KeyboardInterrupt:
        return None


def _poll_interval(root, task_id: str) -> float:
    """The longest pause between status checks that the task's driver recommends."""
    driver = _submitted_driver(root, task_id)
    recommended = getattr(driver, "poll_interval", None)
    return recommended() if callable(recommended) else 1.0


def task_wait(task_id, timeout: float | None = None, for_start: bool = False,
              progress: bool = False, follow: bool = True, root=None) -> bool:
    """Wait until the task finishes (or starts); True for success, False otherwise."""
    root, task_id = _one(task_id, follow, root)
    _check_exists(root, [task_id])
    status = _statuses(root, [task_id])[0]
    if status == "created":
        raise HipercowError(f"Cannot wait on task '{task_id}', which has not been submitted")
    deadline = None if timeout is None else time.monotonic() + timeout
    delay = options.poll_interval
    last = None
    while True:
        if progress and status != last:
            print(f"Task '{task_id[:8]}': {status}", file=sys.stderr)
            last = status
        if for_start and status == "running":
            return True
        if status in TERMINAL:
            return status == "success"
        if deadline is not None and time.monotonic() >= deadline:
            what = "start" if for_start else "complete"
            raise TaskWaitTimeout(f"Task '{task_id}' did not {what} in time (status: {status})")
        time.sleep(delay if deadline is None else max(0.0, min(delay, deadline - time.monotonic())))
        delay = min(delay * 1.5, _poll_interval(root, task_id))  # the driver may back off
        status = _statuses(root, [task_id])[0]


def task_cancel(ids, follow: bool = True, root=None):
    """Cancel queued and running tasks; returns whether each was cancelled."""
    root = find_root(root)
    ids, scalar = _ids(ids)
    if follow:
        ids = follow_ids(root, ids)
    _check_exists(root, ids)
    statuses = _statuses(root, ids)
    eligible = [k for k, s in enumerate(statuses) if s in ("submitted", "running")]
    result = [False] * len(ids)
    by_driver: dict[str, list[int]] = {}
    for k in eligible:
        name = read_marker(root, ids[k], "submitted").get("driver")
        if name:
            by_driver.setdefault(name, []).append(k)
    for name, positions in by_driver.items():
        done = load_driver(root, name).cancel([ids[k] for k in positions])
        for k, ok in zip(positions, done):
            result[k] = ok
    print(cancel_report(ids, statuses, eligible, result))
    return result[0] if scalar else result


def cancel_report(ids, statuses, eligible, result) -> str:
    """hipercow's cancel messages."""
    n, n_ok, n_el = len(ids), sum(result), len(eligible)
    if n == 1:
        if result[0]:
            return f"✔ Successfully cancelled '{ids[0]}'"
        if not eligible:
            return f"ℹ Did not try to cancel '{ids[0]}' as it had status '{statuses[0]}'"
        return f"✖ Did not manage to cancel '{ids[0]}' which had status '{statuses[0]}'"
    if n_ok == n:
        return f"✔ Successfully cancelled {n} tasks"
    if n_el == 0:
        return f"ℹ Did not try to cancel any of {n} tasks as none were eligible"
    eligible_text = "the 1 eligible task" if n_el == 1 else f"all {n_el} eligible tasks"
    if n_ok == n_el:
        return f"✔ Successfully cancelled {eligible_text} (of the {n} requested)"
    if n_ok == 0:
        return f"✖ Failed to cancel {eligible_text} (of the {n} requested)"
    return f"! Cancelled {n_ok} of {n_el} eligible tasks (of the {n} requested)"


def task_retry(ids, driver=None, resources=None, root=None):
    """Run finished tasks again as new tasks in the same chain; returns the new handle(s)."""
    root = find_root(root)
    ids, scalar = _ids(ids)
    _check_exists(root, ids)
    new = retry_tasks(root, ids, _statuses(root, follow_ids(root, ids)), driver, resources)
    handles = [Task(i, root) for i in new]
    return handles[0] if scalar else handles


def task_list(with_status=None, in_bundle=None, finished_before=None, task_ids=None,
              root=None) -> list[str]:
    """Ids of the root's tasks, newest first, filtered by status, bundle (glob) or age."""
    from .listing import list_tasks

    return list_tasks(find_root(root), with_status, in_bundle, finished_before, task_ids)


def hipercow_purge(task_ids=None, finished_before=None, in_bundle=None, with_status=None,
                   dry_run: bool = False, root=None) -> list[str]:
    """Delete finished tasks (hipercow's rules); `dry_run=True` only reports."""
    from .listing import purge

    return purge(find_root(root), task_ids, finished_before, in_bundle, with_status, dry_run)


__all__ = [name for name in dir() if name.startswith(("task_", "hipercow_"))] + ["Task"]
