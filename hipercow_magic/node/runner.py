"""Running one task on a node: claim it, load its environment and inputs, run it, record the
result, times and terminal marker (in that order).

The local driver calls `run_task` in a freshly forked process; every other driver launches
`python -m hipercow_magic.runner ROOT ID` (the thin entry in hipercow_magic/runner.py).
Output goes to stdout/stderr, which the driver sends to the task's log. Either way the
process is titled `hipercow task ID (ROOT)`, so ps, top and `pkill -f ID` find it.
"""

from __future__ import annotations

import ast
import builtins
import gc
import importlib
import json
import os
import platform
import socket
import sys
import time

import cloudpickle

from hipercow_magic._version import __version__
from hipercow_magic.core import capture, signing, store
from hipercow_magic.core.environment import NODE_GLOBALS
from hipercow_magic.core.envvars import deserialise
from hipercow_magic.core.errors import HipercowError
from hipercow_magic.core.format import first_line, short_id
from hipercow_magic.core.results import load_exports, pickle_result, read_result_record
from hipercow_magic.core.root import Root, check_task_id
from hipercow_magic.core.status import TERMINAL
from hipercow_magic.core.task import (
    marker_status,
    prepare_result,
    read_data,
    read_locals,
    read_marker,
    write_terminal,
)
from hipercow_magic.core.titles import set_title
from hipercow_magic.core.versions import python_version
from hipercow_magic.node.context import task_context
from hipercow_magic.node.cores import THREAD_VARIABLES, hipercow_parallel_get_cores
from hipercow_magic.node.environment import load_environment

EXIT_OK, EXIT_FAILED, EXIT_NOT_STARTED = 0, 1, 3
RULE = "─" * 16


def version_mismatch(data: dict) -> str | None:
    """Why this interpreter can't run a task made elsewhere, or None."""
    problems = []
    if data.get("python_version") and data["python_version"] != python_version():
        problems.append(
            f"Python {python_version()} here, but the task was created with Python "
            f"{data['python_version']}"
        )
    made_with = data.get("cloudpickle_version")
    if made_with and made_with != cloudpickle.__version__:
        problems.append(
            f"cloudpickle {cloudpickle.__version__} here, but the task was created "
            f"with cloudpickle {made_with}"
        )
    if not problems:
        return None
    return (
        "This node can't run the task: " + "; ".join(problems) + ". Use the same versions on "
        "the cluster (for Slurm, set python= / preamble= in hipercow_configure('slurm'))."
    )


def set_task_title(root_path: str, task_id: str) -> None:
    """Title this process `hipercow task ID (ROOT)` (what ps, htop and `pkill -f` see),
    named `hipercow-` and the id's first 6 characters (what top and `pkill` see).
    """
    set_title(f"hipercow task {task_id} ({root_path})", f"hipercow-{task_id[:6]}")


def _compile(code: str, task_id: str, start: int = 1):
    """Compile code so tracebacks show its lines, numbered from `start` (a cell's body
    starts at line 2, under its `%%hipercow` line); returns (body, final expression or None).
    """
    filename = f"Cell for task {short_id(task_id)}"
    tree = ast.parse(capture.register_code(filename, code, start), filename=filename)
    last = None
    if tree.body and isinstance(tree.body[-1], ast.Expr):
        last = compile(ast.Expression(tree.body.pop().value), filename, "eval")
    return compile(tree, filename, "exec"), last


def other_version_note(data: dict) -> str | None:
    """A note when the task was created with another hipercow-magic version, else None."""
    made_with = data.get("hipercow_version")
    if not made_with or made_with == __version__:
        return None
    return (
        f"the task was created with hipercow-magic {made_with}, but this node runs "
        f"hipercow-magic {__version__}"
    )


def _load_locals(root, task_id: str, data: dict) -> dict:
    """The task's captured inputs; when they can't be loaded and the task was made by another
    hipercow-magic version, the error says so and what to do.
    """
    try:
        return read_locals(root, task_id)
    except Exception as e:
        note = other_version_note(data)
        if note is None or isinstance(e, HipercowError):
            raise
        raise HipercowError(
            f"Can't load the task's inputs ({type(e).__name__}: {e}): {note}.\n"
            f"Install hipercow-magic {data['hipercow_version']} where tasks run, or create the "
            "task again with this version."
        ) from e


def _not_imported(upstream: str, name: str, why: str, hint: str) -> HipercowError:
    return HipercowError(f"Can't import `{name}` from task {short_id(upstream)}: {why}.\n{hint}")


def load_imports(root, imports: dict[str, str]) -> dict:
    """The values a task imports from other tasks' exports, {name: value}: each read from
    its task's signed result; a name that task did not set (or that could not be sent
    back or loaded here) is a HipercowError naming the task and the name.
    """
    values: dict = {}
    by_task: dict[str, list[str]] = {}
    for name, upstream in imports.items():
        by_task.setdefault(upstream, []).append(name)
    for upstream, names in by_task.items():
        sid, first = short_id(upstream), names[0]
        status = marker_status(root, upstream)
        if status != "success":
            raise _not_imported(
                upstream, first, f"that task's status is '{status}'", "It must succeed first."
            )
        try:
            record = read_result_record(root, upstream)
        except FileNotFoundError:
            raise _not_imported(
                upstream, first, "that task wrote no result", f"Retry task {sid}."
            ) from None
        loaded, problems = load_exports(record)
        dropped = record.get("exports_dropped") or {}
        for name in names:
            if name in loaded:
                values[name] = loaded[name]
            elif name in problems:
                raise _not_imported(
                    upstream,
                    name,
                    f"its value can't be loaded here ({problems[name]})",
                    "Install where this task runs the packages that task used.",
                )
            elif name in dropped:
                raise _not_imported(
                    upstream,
                    name,
                    f"its value (a {dropped[name]}) could not be pickled there",
                    f"Compute `{name}` in this task's own code instead.",
                )
            else:
                raise _not_imported(
                    upstream,
                    name,
                    "that task did not set it",
                    f"Check that task's code sets `{name}` whichever way it runs.",
                )
    return values


def _evaluate(root, task_id: str, data: dict, namespace: dict, imports: dict[str, str]):
    """Run the task's payload, first loading the values it imports from other tasks;
    returns (value, exports).
    """
    kind = data["type"]
    if kind in ("expression", "explicit"):
        namespace.update(load_imports(root, imports))  # a bulk task's row values win
        namespace.update(_load_locals(root, task_id, data))
        body, last = _compile(data["code"], task_id, data.get("code_first_line", 1))
        exec(body, namespace)
        value = eval(last, namespace) if last is not None else None
        exports = {n: namespace[n] for n in data.get("exports", []) if n in namespace}
        return value, exports
    if kind == "call":
        call = _load_locals(root, task_id, data)["call"]
        return call["fn"](*call["args"], **call["kwargs"]), {}
    if kind == "script":
        import runpy

        path = os.path.join(root.path, data["script"])
        if data.get("chdir"):
            os.chdir(os.path.dirname(path))
        runpy.run_path(path, init_globals=namespace, run_name="__main__")
        return None, {}
    raise ValueError(f"Tried to evaluate unknown type of task '{kind}'")


def _print_header(root, task_id: str, data: dict, started: float, imports: dict) -> None:
    """What the task is, at the top of its log (written at once)."""
    lines = [
        f"── hipercow-magic {__version__} running at '{root.path}' ──",
        f"ℹ id: {task_id}",
        f"ℹ starting at: {time.strftime('%Y-%m-%d %H:%M:%S', time.localtime(started))} "
        f"on {socket.gethostname()} (Python {platform.python_version()})",
        f"ℹ Task type: {data['type']}",
    ]
    if data.get("code"):
        lines.append(f"  • Expression: {first_line(data['code'])}")
    if data.get("locals"):
        lines.append(f"  • Locals: {', '.join(data['locals'])}")
    if imports:
        lines.append(
            "  • Imports: " + ", ".join(f"{n} (task {short_id(t)})" for n, t in imports.items())
        )
    lines.append(f"  • Environment: {data.get('environment', 'default')}")
    note = other_version_note(data)
    if note:
        lines.append(f"! Note: {note}")
    lines.append(f"{RULE} task logs ↓ {RULE}\n")
    sys.stdout.write("\n".join(lines))
    sys.stdout.flush()


def _cores_variables() -> None:
    """Every thread-count variable set to the task's cores (HIPERCOW_CORES), for what the
    environment loads; the pools loaded by then are limited before the code runs.
    """
    cores = hipercow_parallel_get_cores()
    if cores is not None:
        os.environ.update(dict.fromkeys(THREAD_VARIABLES, str(cores)))


def run_task(root_path, task_id: str, claimed: bool = False, started: float | None = None) -> int:
    """Run one task to completion; returns the process exit code.

    The task is first claimed (its status-running marker, created exclusively) unless
    the caller, a scheduler, already claimed it for this process.

    Args:
        root_path: the root's path (or the Root itself, from a scheduler).
        task_id: the task to run.
        claimed: whether the caller claimed the task for this process.
        started: with `claimed`, the start time the claim records (else it is read).
    """
    root = root_path if isinstance(root_path, Root) else Root(root_path)
    task_id = check_task_id(task_id)
    if claimed:
        started = started or read_marker(root, task_id, "running").get("time") or time.time()
    else:
        status = marker_status(root, task_id)
        if status in TERMINAL or status == "running":
            print(f"Can't start task '{task_id}', which has status '{status}'", file=sys.stderr)
            return EXIT_NOT_STARTED
        started = time.time()
        claim = {"pid": os.getpid(), "host": socket.gethostname(), "time": started}
        if not store.create_exclusive(root.task_file(task_id, "status-running"), json.dumps(claim)):
            print(f"Can't start task '{task_id}', which has status 'running'", file=sys.stderr)
            return EXIT_NOT_STARTED
    data = read_data(root, task_id)
    if data["type"] == "retry":
        base = data["base"]
        payload_id, payload = base, read_data(root, base)
        print(f"Retry of '{data['parent']}', pointing at {base} ({payload['type']})")
    else:
        payload_id, payload = task_id, data
    try:  # nobody else's code: a task's record must be this user's, unchanged
        signing.verify_record(data, task_id, root.task_file(task_id, "data.json"))
        if payload_id != task_id:
            signing.verify_record(payload, payload_id, root.task_file(payload_id, "data.json"))
        mismatch = version_mismatch(payload)
    except HipercowError as e:
        mismatch = str(e)
    if mismatch:
        print(mismatch, file=sys.stderr)
        write_terminal(
            root,
            task_id,
            "failure",
            reason=mismatch,
            result={"ok": False, "error": RuntimeError(mismatch), "traceback": ""},
        )
        return EXIT_FAILED
    # a retry's own imports (its parents' newest retries) when it has them, else its base's
    imports = data["imports"] if "imports" in data else payload.get("imports") or {}
    namespace = {"__name__": "__main__", "__builtins__": builtins}
    namespace.update((name, importlib.import_module(name)) for name in NODE_GLOBALS)
    _print_header(root, task_id, payload, started, imports)
    try:
        for var in deserialise(payload.get("envvars") or [], decrypt=True).resolved():
            os.environ[var.name] = var.value
        workdir = os.path.join(root.path, payload.get("path", "."))
        os.chdir(workdir)
        sys.path.insert(0, workdir)  # modules beside the notebook import as they do there
        _cores_variables()  # before the environment imports numpy and friends
        if payload.get("environment", "default") != "empty":
            load_environment(root, payload.get("environment", "default"), namespace)
        with task_context(root, payload, namespace, task_id):
            value, exports = _evaluate(root, payload_id, payload, namespace, imports)
        result = {"ok": True, "value": value, "exports": exports}
        outcome = "success"
    except BaseException as e:  # the task's own failure, whatever it is
        from hipercow_magic.core.tracebacks import user_traceback  # only for a failure

        trace = user_traceback(e)
        result = {"ok": False, "error": e, "traceback": trace}
        outcome = "failure"
        sys.stdout.flush()
        print(trace, file=sys.stderr, end="")
    sys.stdout.flush()
    sys.stderr.flush()
    blob, notes = pickle_result(result)
    result_file = None
    try:
        result_file = prepare_result(root, task_id, blob)
    except OSError as e:
        saved = f"the task's result ({len(blob)} bytes) could not be saved: {e.strerror or e}"
        notes.append(saved)
        outcome, reason = "failure", saved[0].upper() + saved[1:]
    else:
        reason = (
            None if outcome == "success" else f"{type(result['error']).__name__}: {result['error']}"
        )
    mark = "✔" if outcome == "success" else "✖"
    sys.stdout.write(
        f"{RULE} task logs ↑ {RULE}\n{mark} status: {outcome}\n"
        + "".join(f"! {note}\n" for note in notes)
        + f"ℹ finishing at: {time.strftime('%Y-%m-%d %H:%M:%S')} "
        f"(elapsed: {time.time() - started:.4g} secs)\n"
    )
    sys.stdout.flush()
    write_terminal(
        root,
        task_id,
        outcome,
        reason=reason,
        started=started,
        result_file=result_file,
        created=data.get("created"),
    )
    return EXIT_OK if outcome == "success" else EXIT_FAILED


def main(argv: list[str] | None = None) -> int:
    """`python -m hipercow_magic.runner ROOT TASK_ID`: run the task; returns the exit code."""
    argv = sys.argv[1:] if argv is None else argv
    if len(argv) != 2:
        print("usage: python -m hipercow_magic.runner ROOT TASK_ID", file=sys.stderr)
        return 2
    sys.stdout.reconfigure(line_buffering=True)
    set_task_title(os.path.abspath(argv[0]), argv[1])
    # What is loaded so far (the interpreter's and this package's modules) lives until the
    # process ends: the collector, and its passes as the interpreter exits, skip it. What the
    # task makes is collected (and finalised: its files flushed) as in any process.
    gc.freeze()
    return run_task(argv[0], argv[1])


if __name__ == "__main__":
    sys.exit(main())
