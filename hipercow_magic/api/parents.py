"""What new tasks depend on, as the creation functions take it: Task handles, Bundles, ids."""

from __future__ import annotations

from hipercow_magic.api.bundles import Bundle
from hipercow_magic.api.ids import resolve_task_id
from hipercow_magic.api.tasks import Task
from hipercow_magic.core.errors import HipercowError


def task_parents(depends_on, imports, root) -> tuple[list[tuple[str | None, str]], dict]:
    """What new tasks depend on, as (root path of a handle or None, full id) pairs, the tasks
    of `imports` included; and `imports` as {name: full id}.
    """
    if depends_on is None:
        given = []
    elif isinstance(depends_on, (str, Task, Bundle)):
        given = [depends_on]
    else:
        given = list(depends_on)
    pairs = []
    for item in given:
        pairs += _pairs(item, root, "depends_on")
    imported = {}
    if imports is not None:
        if not isinstance(imports, dict):
            raise HipercowError("'imports' must be a dict: {name: task the value comes from}")
        for name, item in imports.items():
            if isinstance(item, Bundle):
                raise HipercowError(
                    f"'imports' takes one task for each name, not a bundle (for '{name}')"
                )
            (pair,) = _pairs(item, root, "imports")
            imported[name] = pair[1]
            pairs.append(pair)
    return pairs, imported


def _pairs(item, root, where: str) -> list[tuple[str | None, str]]:
    """The (root path or None, full id) pairs one entry of `depends_on` or `imports` names."""
    if isinstance(item, Task):
        return [(item.root.path, item.id)]
    if isinstance(item, Bundle):
        return [(item.root.path, task_id) for task_id in item.ids]
    if isinstance(item, str):
        return [(None, resolve_task_id(item, root))]
    raise HipercowError(
        f"'{where}' takes Task handles, Bundles or task ids, not {type(item).__name__}"
    )
