"""Reusing a task whose code and inputs are unchanged: a cell's fingerprint (its code, the
values it captures, the notebook functions and classes and the root's modules it uses, the
environment, Python, the tasks it depends on), the root's index of them, finding a task to
reuse or attach to, and saying why a task was not reused.

The index is one small file a fingerprint, `hipercow/reuse/<key>`, holding the id of the
newest task created with that key (written atomically). A task keeps its key and parts in its
data.json (`reuse_key`, `reuse_parts`), which is what comparisons read.
"""

from __future__ import annotations

import json
import os
import platform
import re

from hipercow_magic.core import capture, store
from hipercow_magic.core.environment import read_environment
from hipercow_magic.core.envvars import deserialise
from hipercow_magic.core.errors import HipercowError
from hipercow_magic.core.format import short_id
from hipercow_magic.core.provision import current_record
from hipercow_magic.core.root import TASK_ID_RE
from hipercow_magic.engine.create import Plan, capture_names
from hipercow_magic.engine.listing import all_task_ids, read_task_data
from hipercow_magic.engine.retry import follow_one
from hipercow_magic.engine.statuses import task_statuses

ATTACHABLE = ("submitted", "running")


# ---- the fingerprint of a cell ----------------------------------------------------------
def cell_fingerprint(
    plan: Plan, code: str, namespace: dict, imports: dict | None
) -> capture.Fingerprint | None:
    """The fingerprint of an expression task as `plan` would create it from `code` and the
    values it reads from `namespace` (names in `imports` come from upstream tasks: the
    tasks' ids count, not values). Not its resources, name or driver. None when a value
    pickles but can't be fingerprinted (the task is then created without reuse).

    Raises:
        HipercowError: the code has a syntax error, a name it reads is missing, or a value
            can't be pickled (as creating the task would say).
    """
    analysis = capture.analyse_code(code)
    values = capture_names(analysis, namespace, plan.globals | set(imports or {}))
    fp = capture.Fingerprint(plan.root.path)
    fp.add("type", capture.digest("expression"))
    fp.add("code", capture.code_digest(code))
    fp.add_imports(capture.parse_code(code))
    for name, value in values.items():
        try:
            fp.add_values({name: value})
        except Exception:
            capture.dumps(value, name)  # raises the error that names the variable
            return None
    fp.add("environment", _environment_digest(plan, fp))
    fp.add("python", capture.digest(platform.python_implementation(), platform.python_version()))
    fp.add("workdir", capture.digest(plan.path))
    envvars = [(v.name, v.value) for v in deserialise(plan.envvars, decrypt=True).items]
    fp.add("envvars", capture.digest(json.dumps(envvars)))
    if plan.depends_on or imports:
        upstream = [sorted(plan.depends_on), sorted((imports or {}).items())]
        fp.add("upstream", capture.digest(json.dumps(upstream)))
    return fp


def _environment_digest(plan: Plan, fp: capture.Fingerprint) -> str:
    """The environments the task loads (records, and the installations they use); their
    source files become module parts of `fp`.
    """
    names = [plan.environment]
    if plan.parallel is not None and plan.parallel.environment is not None:
        names.append(plan.parallel.environment)
    described = []
    for name in names:
        env = read_environment(plan.root, name)
        for source in (env or {}).get("sources") or []:
            fp.root_module(os.path.join(plan.root.path, source))
        installation = None if name == "empty" else current_record(plan.root, name)
        described.append([name, env, installation and installation.get("id")])
    return capture.digest(json.dumps(described, sort_keys=True, default=str))


def reuse_fields(fp: capture.Fingerprint) -> dict:
    """The data.json fields of a task created with reuse: its key and its parts."""
    return {"reuse_key": fp.key(), "reuse_parts": dict(sorted(fp.parts.items()))}


# ---- the index ----------------------------------------------------------------------
def index_path(root, key: str) -> str:
    """The index file of a fingerprint: it holds the newest task created with it."""
    return os.path.join(root.hipercow, "reuse", key)


def remember(root, key: str, task_id: str) -> None:
    """Make `task_id` the task that later creations with `key` reuse or attach to."""
    path = index_path(root, key)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    store.write_text(path, task_id)


def find_reusable(root, key: str) -> tuple[str, str] | None:
    """A task to stand for a new one with fingerprint `key`: (its id, 'reused') when it
    succeeded (the newest of its retries), (its id, 'attached') while it is queued or
    running; None when there is none, or it failed, was cancelled or purged.
    """
    text = store.read_text_or(index_path(root, key))
    task_id = (text or "").strip()
    if not TASK_ID_RE.fullmatch(task_id):
        return None
    data, problem = read_task_data(root, task_id)
    if problem is not None or data.get("reuse_key") != key:
        return None
    newest = follow_one(root, task_id)
    status = task_statuses(root, [newest])[0]
    if status == "success":
        return newest, "reused"
    if status in ATTACHABLE:
        return newest, "attached"
    return None


# ---- why a task was (not) reused ----------------------------------------------------
_ORDER = ("type", "code", "value", "function", "class", "module", "upstream")


def explain(root, task_id: str) -> str:
    """Why task `task_id` ran rather than reusing an earlier task of the same cell: which of
    its inputs changed since that task (or that there was none); and whether it is what
    unchanged runs of its cell now reuse.

    The earlier task of the same cell is the newest earlier task with the same code, else
    the newest earlier task setting the same names.
    """
    data, problem = read_task_data(root, task_id)
    if problem is not None:
        raise HipercowError(f"Can't read task '{task_id}': {problem}")
    short = short_id(task_id)
    parts = data.get("reuse_parts")
    if not parts:
        return (
            f"Task {short} was created without reuse (reuse switched off, or not a cell's "
            "task), so it has no fingerprint to compare."
        )
    lines = []
    if _holds_key(root, data):
        status = task_statuses(root, [task_id])[0]
        if status == "success":
            lines.append(
                f"Task {short} is reused when its cell runs with the same code and inputs."
            )
        elif status in ATTACHABLE:
            lines.append(f"Task {short} is {status}: its cell run again unchanged attaches to it.")
    earlier = _earlier_run(root, task_id, data)
    if earlier is None:
        lines.append(f"Task {short}: no earlier task of this cell, so there was nothing to reuse.")
        return "\n".join(lines)
    other_id, other = earlier
    other_status = task_statuses(root, [other_id])[0] or "purged"
    what = f"task {short_id(other_id)} (an earlier run of this cell, {other_status})"
    changes = differences(other.get("reuse_parts") or {}, parts, other, data)
    if not other.get("reuse_parts"):
        lines.append(f"Task {short} ran anew: {what} was created without reuse.")
    elif changes:
        lines.append(f"Task {short} ran rather than reuse {what}, because: {'; '.join(changes)}.")
    elif other_status in ("failure", "cancelled"):
        lines.append(
            f"Task {short} has the same code and inputs as {what}; it ran again because task "
            f"{short_id(other_id)} {'failed' if other_status == 'failure' else 'was cancelled'}."
        )
    else:
        lines.append(
            f"Task {short} has the same code and inputs as {what}; it was asked to run again "
            "(--rerun)."
        )
    return "\n".join(lines)


def _holds_key(root, data: dict) -> bool:
    """Whether the task is the one its fingerprint's index names now."""
    key = data.get("reuse_key")
    if not key:
        return False
    return (store.read_text_or(index_path(root, key)) or "").strip() == data.get("id")


def _earlier_run(root, task_id: str, data: dict) -> tuple[str, dict] | None:
    """The newest task created before this one from the same code, else the newest setting
    the same names; with its data.
    """
    created = data.get("created") or 0
    code = (data.get("reuse_parts") or {}).get("code")
    exports = sorted(data.get("exports") or [])
    same_names = None
    for other_id in all_task_ids(root):  # newest first
        if other_id == task_id:
            continue
        other, problem = read_task_data(root, other_id)
        if problem is not None or (other.get("created") or 0) >= created:
            continue
        if other.get("type") not in ("expression", "explicit"):
            continue
        if code and (other.get("reuse_parts") or {}).get("code") == code:
            return other_id, other
        if same_names is None and exports and sorted(other.get("exports") or []) == exports:
            same_names = (other_id, other)
    return same_names


def differences(
    old: dict, new: dict, old_data: dict | None = None, new_data: dict | None = None
) -> list[str]:
    """What changed between two tasks' fingerprint parts, in words, most telling first.

    With the tasks' data, a name one imported from a task and the other captured is said
    as such ("the value of `a` is no longer what task 1a2b3c4d set"), rather than as a
    name newly read and a change of the tasks it depends on.
    """
    moved = _moved_imports(old_data or {}, new_data or {}, old, new)
    names = sorted(set(old) | set(new), key=_rank)
    changed = [n for n in names if old.get(n) != new.get(n) and n not in moved]
    if moved and _same_links_but(moved, old_data, new_data):
        changed = [n for n in changed if n != "upstream"]
    return [*moved.values(), *(_change(n, old.get(n), new.get(n)) for n in changed)]


def _moved_imports(old_data: dict, new_data: dict, old: dict, new: dict) -> dict[str, str]:
    """The value parts of names imported from a task by one run and captured by the other,
    with the words for each.
    """
    old_imports, new_imports = old_data.get("imports") or {}, new_data.get("imports") or {}
    moved = {}
    for name, task in old_imports.items():
        if name not in new_imports and f"value:{name}" in new:
            moved[f"value:{name}"] = (
                f"the value of `{name}` is no longer what task {short_id(task)} set"
            )
    for name, task in new_imports.items():
        if name not in old_imports and f"value:{name}" in old:
            moved[f"value:{name}"] = f"`{name}` now comes from task {short_id(task)}"
    return moved


def _same_links_but(moved: dict, old_data: dict | None, new_data: dict | None) -> bool:
    """Whether two runs depend on the same tasks once the moved names' tasks are set aside."""
    names = {part.split(":", 1)[1] for part in moved}

    def links(data: dict) -> tuple[dict, set]:
        imports = data.get("imports") or {}
        kept = {n: t for n, t in imports.items() if n not in names}
        gone = {t for n, t in imports.items() if n in names}
        return kept, set(data.get("depends_on") or []) - gone

    return links(old_data or {}) == links(new_data or {})


def _rank(name: str) -> tuple[int, str]:
    kind = name.split(":", 1)[0]
    return (_ORDER.index(kind) if kind in _ORDER else len(_ORDER), name)


_WHOLE = {
    "type": "the kind of task changed",
    "code": "the code changed",
    "environment": "the environment changed",
    "python": "the Python version changed",
    "workdir": "the working directory changed",
    "envvars": "the environment variables changed",
    "upstream": "the tasks it depends on changed",
}


def _change(name: str, old: str | None, new: str | None) -> str:
    """One changed part in words: 'the value of `beta` changed', 'module m.py changed'..."""
    if name in _WHOLE:
        return _WHOLE[name]
    kind, _, what = name.partition(":")
    what = re.sub(r"#\d+$", "", what)
    shown = what if kind == "module" else f"`{what}`"
    if kind == "value":
        if old is None:
            return f"it now reads {shown}"
        return f"it no longer reads {shown}" if new is None else f"the value of {shown} changed"
    noun = {"function": "function", "class": "class", "module": "module"}.get(kind, kind)
    if old is None:
        return f"it now uses {noun} {shown}"
    if new is None:
        return f"it no longer uses {noun} {shown}"
    return f"{noun} {shown} changed"
