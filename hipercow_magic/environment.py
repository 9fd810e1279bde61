"""Environments: the packages and source files loaded on the node before a task's code."""

from __future__ import annotations

import importlib
import os
import re
import runpy

from . import store
from .errors import HipercowError

SPECIAL = ("default", "empty")
_NAME_RE = re.compile(r"^[A-Za-z0-9_-]+$")


def check_name(name: str) -> str:
    if not isinstance(name, str) or not _NAME_RE.match(name):
        raise HipercowError(
            f"Invalid environment name '{name}'\n"
            "Use letters, digits, '_' and '-' only."
        )
    return name


def environment_path(root, name: str) -> str:
    return os.path.join(root.environments, f"{check_name(name)}.json")


def read_environment(root, name: str) -> dict | None:
    """The saved environment, or None for `default`/`empty` when never created."""
    env = store.read_json_or(environment_path(root, name))
    if env is None and name not in SPECIAL:
        raise HipercowError(
            f"Environment '{name}' does not exist\n"
            "Create it with hipercow_environment_create(), or use 'default'."
        )
    return env


def environment_globals(root, name: str) -> set[str]:
    """Names the environment's sources define, so they are not captured from the caller."""
    env = read_environment(root, name)
    return set((env or {}).get("globals") or [])


def load_environment(root, name: str, namespace: dict) -> None:
    """Import the environment's packages, then run its sources into `namespace`."""
    env = read_environment(root, name) or {}
    if env.get("packages") or env.get("sources"):
        print(f"Loading environment '{name}'...")
    for package in env.get("packages") or []:
        namespace[package.split(".")[0]] = importlib.import_module(package)
    for source in env.get("sources") or []:
        namespace.update(runpy.run_path(os.path.join(root.path, source), init_globals=namespace))


def hipercow_environment_list(root=None) -> list[str]:
    """'default', 'empty', then every environment created in this root."""
    from .root import find_root

    root = find_root(root)
    try:
        names = sorted(n[:-5] for n in os.listdir(root.environments) if n.endswith(".json"))
    except FileNotFoundError:
        names = []
    return list(SPECIAL) + [n for n in names if n not in SPECIAL]
