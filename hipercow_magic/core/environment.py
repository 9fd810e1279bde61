"""Environments: the packages and source files loaded on the node before a task's code.

An environment is saved as `hipercow/environments/<name>.json` holding its name, packages,
sources and globals. `default` and `empty` always exist; `empty` loads nothing at all (not even
a provisioned virtual environment).
"""

from __future__ import annotations

import ast
import os
import re

from hipercow_magic.core import store
from hipercow_magic.core.checks import string_list
from hipercow_magic.core.errors import HipercowError

SPECIAL = ("default", "empty")
_NAME_RE = re.compile(r"^[A-Za-z0-9_-]+$")
_PACKAGE_RE = re.compile(r"^\s*([A-Za-z_]\w*(?:\.[A-Za-z_]\w*)*)(?:\s+as\s+([A-Za-z_]\w*))?\s*$")
_PIP_INSTALL_RE = re.compile(r"\bpip3?(?:\s+-\S+)*\s+install\b")


# ---- names and files -------------------------------------------------------------------
def check_name(name: str) -> str:
    """The name if it is a valid environment name (letters, digits, '_' and '-')."""
    if not isinstance(name, str) or not _NAME_RE.match(name):
        raise HipercowError(
            f"Invalid environment name '{name}'\nUse letters, digits, '_' and '-' only."
        )
    return name


def environment_path(root, name: str) -> str:
    """The file holding environment `name`'s record (the name is checked first)."""
    return os.path.join(root.environments, f"{check_name(name)}.json")


def saved_names(root) -> list[str]:
    """The environments created in this root, by name."""
    try:
        return sorted(
            n[:-5]
            for n in os.listdir(root.environments)
            if n.endswith(".json") and not n.startswith(".")
        )
    except FileNotFoundError:
        return []


def _valid_options(root) -> str:
    names = list(SPECIAL) + [n for n in saved_names(root) if n not in SPECIAL]
    return ", ".join(f"'{n}'" for n in names)


def read_environment(root, name: str) -> dict | None:
    """The saved environment, or None for `default`/`empty` when never created."""
    env = store.read_json_or(environment_path(root, name))
    if env is None and name not in SPECIAL:
        raise HipercowError(
            f"Environment '{name}' does not exist\n"
            f"Valid options are: {_valid_options(root)}\n"
            "Create it with hipercow_environment_create()."
        )
    return env


def parse_package(spec: str) -> tuple[str, str, bool]:
    """(module, name bound, aliased): 'numpy as np' -> ('numpy', 'np', True);
    'scipy.stats' -> ('scipy.stats', 'scipy', False), as the `import` statement binds.
    """
    match = _PACKAGE_RE.match(spec) if isinstance(spec, str) else None
    if not match:
        raise HipercowError(
            f"Invalid package '{spec}'\n"
            "Give a module name to import, like 'numpy', 'scipy.stats' or 'numpy as np'."
        )
    module, alias = match.groups()
    return module, alias or module.split(".")[0], alias is not None


NODE_GLOBALS = frozenset({"hipercow_magic"})
# names every task's code can use on the node without their being captured: the package itself
# (its pool(), executor() and parallel helpers), however the notebook imported it, or did not


def environment_globals(root, name: str) -> set[str]:
    """Names the environment defines on the node (its globals and imported packages),
    which are therefore not captured from the caller.
    """
    if name == "empty":
        return set()
    env = read_environment(root, name) or {}
    names = set(env.get("globals") or [])
    names.update(parse_package(p)[1] for p in env.get("packages") or [])
    return names


def check_sources(root, sources: list[str]) -> list[str]:
    """Sources as paths relative to the root; each must be an existing file inside it."""
    relative, missing, directories = [], [], []
    for source in sources:
        rel = root.relative(source)
        if rel is None:
            raise HipercowError(
                f"Source '{source}' is outside the hipercow root\n"
                f"Sources are files inside the root ('{root.path}'), where the cluster sees them."
            )
        full = os.path.join(root.path, rel)
        if not os.path.exists(full):
            missing.append(source)
        elif os.path.isdir(full):
            directories.append(source)
        relative.append(rel)
    if missing:
        raise HipercowError(
            f"File{'s' if len(missing) > 1 else ''} in 'sources' not found: "
            f"{', '.join(repr(m) for m in missing)}\n"
            f"Looking relative to '{root.path}'"
        )
    if directories:
        raise HipercowError(
            f"File{'s' if len(directories) > 1 else ''} in 'sources' "
            f"{'are directories' if len(directories) > 1 else 'is a directory'}, not a file: "
            f"{', '.join(repr(d) for d in directories)}\n"
            f"Looking relative to '{root.path}'\n"
            "Only Python files can be sources."
        )
    return relative


def _strings_in_call(call: ast.Call) -> list[str]:
    found = []
    for arg in [*call.args, *(k.value for k in call.keywords)]:
        items = arg.elts if isinstance(arg, (ast.List, ast.Tuple)) else [arg]
        found += [
            i.value for i in items if isinstance(i, ast.Constant) and isinstance(i.value, str)
        ]
    return found


def _installs_packages(call: ast.Call) -> bool:
    func = ast.unparse(call.func)
    if func.startswith("pip.") or ".pip." in func or func == "pipmain":
        return True
    return bool(_PIP_INSTALL_RE.search(" ".join(_strings_in_call(call))))


def check_source(root, source: str) -> None:
    """A source must parse, and must not install packages (provisioning does that)."""
    path = os.path.join(root.path, source)
    with open(path, encoding="utf-8") as f:
        text = f.read()
    try:
        tree = ast.parse(text, filename=source)
    except SyntaxError as e:
        line = f"\n    {e.text.strip()}" if e.text and e.text.strip() else ""
        raise HipercowError(
            f"Syntax error in source '{source}', line {e.lineno}: {e.msg}{line}\n"
            "Fix the file (or pass check=False to skip checking sources)."
        ) from None
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and _installs_packages(node):
            raise HipercowError(
                f"Found a call installing packages ('pip install') in '{source}', "
                f"line {node.lineno}\n"
                "Don't install packages from an environment's sources: every task would run "
                "it, slowly and all at once. Use hipercow_provision() instead.\n"
                "If this is a false positive, pass check=False to hipercow_environment_create()."
            )


def check_globals(globals_) -> list[str] | None:
    """Names given as an environment's globals, each an identifier."""
    names = string_list(globals_, "globals")
    for name in names or []:
        if not name.isidentifier():
            raise HipercowError(f"Invalid name in 'globals': '{name}'")
    return names


def describe(env: dict) -> list[str]:
    """Hipercow's bullets for an environment's packages, sources and globals."""

    def items(key: str) -> str:
        return ", ".join(env.get(key) or []) or "(none)"

    return [
        f"• packages: {items('packages')}",
        f"• sources: {items('sources')}",
        f"• globals: {items('globals')}",
    ]
