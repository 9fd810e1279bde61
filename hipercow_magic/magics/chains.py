"""Cells that wait for cells on the cluster, not in the kernel.

A `%%hipercow` cell whose code reads names that pending `%%hipercow` tasks of this session
will set is submitted at once: it imports those names from those tasks (their values are
loaded where it runs, once those tasks succeed), so it depends on them. A chain of such cells
is on the cluster as soon as it is submitted, and completes with the kernel shut down.
`--after ID|VAR` adds dependencies by hand.

A name whose value a task's exports set in the notebook (between cells, in a waiting cell, by
`%hipercow show --export` or `result --export`, or by a reused cell) is imported from that task
too, as long as the value is still what the task exported (its pickled bytes are the same):
the cell then depends on the same tasks however its upstream cells ran, so running it again
unchanged reuses its task, and a large value already on disk is not sent again. A value
changed since, even in place, is captured as usual.
"""

from __future__ import annotations

import re

from IPython.core.error import UsageError

from hipercow_magic import api
from hipercow_magic.api.exported import unchanged_exports
from hipercow_magic.core.errors import HipercowError
from hipercow_magic.magics.reads import code_reads
from hipercow_magic.magics.waiting import UNSET, not_set_error, pending_setters
from hipercow_magic.widgets.model import TaskModel

_HEX = re.compile(r"^[0-9a-fA-F]+$")


def _importable(setters: dict[str, TaskModel]) -> dict[str, TaskModel]:
    """Of `pending_setters`, those a `%%hipercow` cell can import instead of waiting for
    them: tasks of the current root that have not failed or been cancelled.
    """
    try:
        here = api.hipercow_root().path
    except HipercowError:  # no root: the cell itself says so
        return {}
    return {
        name: model
        for name, model in setters.items()
        if model.status not in UNSET and model.root.path == here
    }


def importable_names(magics) -> set[str]:
    """Names pending tasks of this session will set that a `%%hipercow` cell's code may
    read without waiting in the kernel (it imports them: see `cell_imports`).
    """
    setters = pending_setters(magics) if magics.awaiting() else {}
    return set(_importable(setters)) if setters else set()


def cell_imports(magics, code: str) -> dict[str, api.Task]:
    """The names a `%%hipercow` cell's code reads that pending tasks of this session will
    set, or whose values in the notebook are still what a task exported, each with its
    task (the cell imports them from there).

    Raises:
        PendingTaskFailed: a name the code reads was to be set by a task that failed or was
            cancelled (and the notebook has no value of its own for it).
    """
    setters = pending_setters(magics) if magics.awaiting() else {}
    reads = code_reads(code)
    wanted = {name: setters[name] for name in sorted(reads) if name in setters}
    for name, model in wanted.items():
        if model.status in UNSET:
            raise not_set_error(model, f"`{name}`")
    imports = {name: api.Task(model.id, model.root) for name, model in _importable(wanted).items()}
    imports.update(values_from_tasks(magics, sorted(reads - set(wanted))))
    return imports


def values_from_tasks(magics, names: list[str]) -> dict[str, api.Task]:
    """Of `names`, those whose values in the notebook a task of the current root set and
    that are unchanged since: their pickled bytes are the bytes that task exported (never
    the object's identity alone: a value changed in place is the same object). Each with
    the task, which succeeded, so importing from it holds nothing up.
    """
    namespace = magics.shell.user_ns
    origins = {name: magics.delivery.origin(name) for name in names if name in namespace}
    origins = {name: origin for name, origin in origins.items() if origin is not None}
    if not origins:
        return {}
    try:
        here = api.hipercow_root().path
    except HipercowError:  # no root: the cell itself says so
        return {}
    by_task: dict[str, list[str]] = {}
    for name, (task_id, root) in origins.items():
        if root.path == here:
            by_task.setdefault(task_id, []).append(name)
    found = {}
    for task_id, read in by_task.items():
        root = origins[read[0]][1]
        if api.task_status(task_id, follow=False, root=root) != "success":
            continue  # purged since, say: capture the values
        values = {name: namespace[name] for name in read}
        for name in unchanged_exports(task_id, values, root=root):
            found[name] = api.Task(task_id, root)
    return found


def _is_task(value) -> bool:
    if isinstance(value, (api.Task, api.Bundle)):
        return True
    return (
        isinstance(value, (list, tuple))
        and bool(value)
        and all(isinstance(v, (api.Task, api.Bundle)) for v in value)
    )


def _described(value) -> str:
    """'an int', 'a list', 'None': what a variable holds, for a message."""
    if value is None:
        return "None"
    kind = type(value).__name__
    return f"an {kind}" if kind[:1].lower() in "aeiou" else f"a {kind}"


def after_tasks(namespace: dict, words: list[str]) -> list:
    """What the words of `--after` name: a variable of the notebook holding a Task, a
    Bundle, or a list of them is that; any other word is a task id or its first characters.

    Raises:
        UsageError: a word names a variable that holds no task.
    """
    parents: list = []
    for word in words:
        if not (word.isidentifier() and word in namespace):
            if word.isidentifier() and not _HEX.match(word):
                raise UsageError(
                    f"--after {word}: the notebook has no variable `{word}`, and it is not a "
                    "task id (32 hexadecimal characters, or the first 4 or more of them)"
                )
            parents.append(word)
            continue
        value = namespace[word]
        if not _is_task(value):
            raise UsageError(
                f"`{word}` holds {_described(value)}, not a task: --after takes task ids or "
                "variables holding tasks"
            )
        parents.extend(value if isinstance(value, (list, tuple)) else [value])
    return parents


def chain_options(magics, options: dict, code: str) -> dict:
    """A `%%hipercow` cell's task options (`task_options`) with what its task waits for:
    the tasks `--after` names, and the names its code imports from pending tasks.
    """
    options["depends_on"] = after_tasks(magics.shell.user_ns, options["depends_on"])
    options["imports"] = cell_imports(magics, code)
    return options
