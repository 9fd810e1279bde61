"""The hipercow root: finding it, creating it, and where everything lives inside it."""

from __future__ import annotations

import os
import re
import socket

from hipercow_magic.core import store
from hipercow_magic.core.errors import HipercowError

TASK_ID_RE = re.compile(r"[0-9a-f]{32}")
_roots: dict[str, Root] = {}


class Root:
    """A folder holding `hipercow/`; all paths of tasks, bundles and configuration."""

    def __init__(self, path: str):
        self.path = os.path.realpath(path)
        self.hipercow = os.path.join(self.path, "hipercow")
        self.tasks = os.path.join(self.hipercow, "tasks")
        self.bundles = os.path.join(self.hipercow, "bundles")
        self.environments = os.path.join(self.hipercow, "environments")
        self.terminal_cache: dict[str, str] = {}
        self.created_cache: dict[str, float] = {}  # a task's data.json never changes

    def __repr__(self) -> str:
        return f"<hipercow root at '{self.path}'>"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Root) and other.path == self.path

    def __hash__(self) -> int:
        return hash(self.path)

    # plain concatenation: these run for every task of every status query
    def task_dir(self, task_id: str) -> str:
        """A task's folder: tasks/<first 2 characters>/<the other 30>."""
        return f"{self.tasks}{os.sep}{task_id[:2]}{os.sep}{task_id[2:]}"

    def task_file(self, task_id: str, name: str) -> str:
        """The file `name` in a task's folder."""
        return f"{self.tasks}{os.sep}{task_id[:2]}{os.sep}{task_id[2:]}{os.sep}{name}"

    def config_dir(self, hostname: str | None = None) -> str:
        """The folder of driver configurations for a machine (default: this one)."""
        return os.path.join(self.hipercow, "config", hostname or socket.gethostname())

    def config_path(self, driver: str) -> str:
        """The file holding `driver`'s configuration on this machine."""
        return os.path.join(self.config_dir(), f"{driver}.json")

    def configured_drivers(self) -> list[str]:
        """The names of the drivers configured on this machine, sorted."""
        try:
            names = os.listdir(self.config_dir())
        except FileNotFoundError:
            return []
        return sorted(n[:-5] for n in names if n.endswith(".json"))

    def driver_config(self, driver: str) -> dict | None:
        """`driver`'s configuration on this machine, or None if it is not configured."""
        return store.read_json_or(self.config_path(driver))

    def relative(self, path: str) -> str | None:
        """`path` (absolute, or relative to the root) relative to the root after resolving
        links; None when it lies outside the root.
        """
        full = os.path.realpath(os.path.join(self.path, path))
        rel = os.path.relpath(full, self.path)
        return None if rel == os.pardir or rel.startswith(os.pardir + os.sep) else rel

    def relative_workdir(self, workdir: str | None = None) -> str:
        """The working directory relative to the root; an error outside it."""
        here = os.path.realpath(workdir or os.getcwd())
        rel = self.relative(here)
        if rel is None:
            raise HipercowError(
                "Working directory is not a subdirectory of the hipercow root\n"
                f"  working directory: '{here}'\n  root: '{self.path}'\n"
                "Change into the root (or a folder below it) before creating tasks."
            )
        return rel


def init_root(path: str = ".") -> tuple[Root, bool]:
    """Create `<path>/hipercow/`; returns the root and whether it was new."""
    target = os.path.join(path, "hipercow")
    if os.path.isfile(path):
        raise HipercowError(
            f"Can't create a hipercow root at '{path}': it is a file, not a directory"
        )
    if os.path.exists(target) and not os.path.isdir(target):
        raise HipercowError(
            f"Unexpected file 'hipercow' (rather than directory) found at '{path}'\n"
            "Remove or rename that file, or choose another folder for the root."
        )
    created = not os.path.isdir(target)
    for sub in ("tasks", "bundles", "environments", "config"):
        os.makedirs(os.path.join(target, sub), exist_ok=True)
    root = Root(path)
    _roots[root.path] = root
    return root, created


def find_root(path: str | None = None) -> Root:
    """The root at `path` (or upward from the working directory), as a cached object."""
    if isinstance(path, Root):
        return path
    start = os.path.realpath(path or os.getcwd())
    if path is not None:
        if not os.path.isdir(os.path.join(start, "hipercow")):
            raise HipercowError(
                f"Couldn't find hipercow root at '{path}'\n"
                "Create one with hipercow_init() (or `hipercow init`)."
            )
        found = start
    else:
        found = None
        here = start
        while True:
            if os.path.isdir(os.path.join(here, "hipercow")):
                found = here
                break
            parent = os.path.dirname(here)
            if parent == here:
                break
            here = parent
        if found is None:
            raise HipercowError(
                f"Couldn't find hipercow root, looking up from '{start}'\n"
                "Create one with hipercow_init() (or `hipercow init`), or change into it."
            )
    root = _roots.get(found)
    if root is None:
        root = _roots[found] = Root(found)
    return root


def check_task_id(task_id) -> str:
    """Accept a `Task` handle or a 32-character lowercase hex id; anything else is an error."""
    value = getattr(task_id, "id", task_id)
    if not isinstance(value, str) or not TASK_ID_RE.fullmatch(value):
        raise HipercowError(
            f"Invalid task identifier '{value}'\n"
            "A task id is 32 lowercase hexadecimal characters (or a Task handle)."
        )
    return value


def task_ids(ids) -> tuple[list[str], bool]:
    """One id or handle, or many (a list, or a bundle's `.ids`), as a list of checked ids;
    and whether a single one was given.
    """
    if isinstance(ids, str) or hasattr(ids, "id"):
        return [check_task_id(ids)], True
    if hasattr(ids, "ids") and hasattr(ids, "name"):  # a bundle
        return list(ids.ids), False
    return [check_task_id(i) for i in ids], False
