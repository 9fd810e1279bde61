"""Environments, as users call them: create, list, show, check and delete the packages and
source files loaded on the node before a task's code.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile

from hipercow_magic.core import store
from hipercow_magic.core.checks import string_list
from hipercow_magic.core.environment import (
    SPECIAL,
    check_globals,
    check_name,
    check_source,
    check_sources,
    describe,
    environment_path,
    parse_package,
    read_environment,
    saved_names,
)
from hipercow_magic.core.errors import HipercowError
from hipercow_magic.core.provision import provision_summary
from hipercow_magic.core.root import find_root
from hipercow_magic.core.versions import child_environment


def discover_globals(
    root, name: str, packages: list[str] | None, sources: list[str] | None
) -> list[str]:
    """The names the environment defines, found by loading it in a fresh Python process."""
    print(f"ℹ Creating '{name}' in a clean Python process; this may take a moment")
    env = {"name": name, "packages": packages, "sources": sources}
    fd, out = tempfile.mkstemp(prefix="hipercow-globals-", suffix=".json")
    os.close(fd)
    try:
        proc = subprocess.run(
            [
                sys.executable,
                "-m",
                "hipercow_magic.node.environment",
                root.path,
                json.dumps(env),
                out,
            ],
            cwd=root.path,
            capture_output=True,
            text=True,
            stdin=subprocess.DEVNULL,
            check=False,
            env=child_environment(),
        )
        if proc.returncode != 0:
            raise HipercowError(
                f"Could not load environment '{name}' on this machine to discover its "
                f"globals:\n  {proc.stderr.strip().splitlines()[-1] if proc.stderr.strip() else ''}"
                "\nProvision its packages first (hipercow_provision()), fix the sources, or "
                "give 'globals' as a list of names."
            )
        names = store.read_json(out)
    finally:
        os.unlink(out)
    print(f"✔ Found {len(names)} symbol{'' if len(names) == 1 else 's'}")
    return names


def new_environment(
    root, name: str, packages=None, sources=None, globals_=None, check: bool = True
) -> dict:
    """A checked environment record (nothing is written)."""
    packages = string_list(packages, "packages")
    for package in packages or []:
        parse_package(package)
    sources = string_list(sources, "sources")
    if sources:
        sources = check_sources(root, sources)
        if check:
            for source in sources:
                check_source(root, source)
    if globals_ is True:
        globals_ = discover_globals(root, name, packages, sources)
    elif globals_ is False:
        globals_ = None
    else:
        globals_ = check_globals(globals_)
    return {"name": name, "packages": packages, "sources": sources, "globals": globals_ or None}


def hipercow_environment_create(
    name: str = "default",
    packages=None,
    sources=None,
    globals=None,
    overwrite: bool = True,
    check: bool = True,
    root=None,
) -> dict:
    """Create or update an environment: `packages` imported, then `sources` (files relative
    to the root) run, before each task's code.

    Args:
        name: the environment's name (letters, digits, '_', '-'; not 'empty').
        packages: a package name or a list of them, imported in order.
        sources: a file or a list of files, relative to the root, run in order.
        globals: the names the sources define, which tasks then do not capture: a list of
            names, True to find them by loading the environment in a fresh Python process,
            or None/False for none.
        overwrite: replace an existing environment of that name; with False, one is an error.
        check: check now that every source file exists and parses.
        root: the hipercow root (default: found from the working directory).

    Returns:
        The environment's record: name, packages, sources, globals.

    Raises:
        HipercowError: an invalid name, package or source, the environment exists and
            `overwrite` is False, or its globals could not be found.
    """
    root = find_root(root)
    if name == "empty":
        raise HipercowError("Can't create environment with special name 'empty'")
    check_name(name)
    env = new_environment(root, name, packages, sources, globals, check)
    path = environment_path(root, name)
    previous = store.read_json_or(path)
    if previous == env:
        print(f"ℹ Environment '{name}' is unchanged")
    elif previous is not None and not overwrite:
        raise HipercowError(f"Environment '{name}' already exists and 'overwrite' is False")
    else:
        os.makedirs(root.environments, exist_ok=True)
        store.write_json(path, env)
        print(f"✔ {'Updated' if previous is not None else 'Created'} environment '{name}'")
    return env


def hipercow_environment_list(root=None) -> list[str]:
    """The environments tasks can use.

    Args:
        root: the hipercow root (default: found from the working directory).

    Returns:
        'default', 'empty', then every environment created in this root.
    """
    root = find_root(root)
    return list(SPECIAL) + [n for n in saved_names(root) if n not in SPECIAL]


def hipercow_environment_exists(name: str = "default", root=None) -> bool:
    """Whether `name` is an environment of this root (`default` and `empty` always are).

    Args:
        name: the environment's name.
        root: the hipercow root (default: found from the working directory).

    Returns:
        True if tasks can use it.

    Raises:
        HipercowError: `name` is not a valid environment name.
    """
    root = find_root(root)
    check_name(name)
    return name in SPECIAL or os.path.exists(environment_path(root, name))


def hipercow_environment_delete(name: str = "default", root=None) -> None:
    """Delete an environment (not `default` or `empty`); its installations are kept.

    Args:
        name: the environment's name.
        root: the hipercow root (default: found from the working directory).

    Raises:
        HipercowError: the environment does not exist, or is `default` or `empty`.
    """
    root = find_root(root)
    check_name(name)
    if name == "empty":
        raise HipercowError("Can't delete environment with special name 'empty'")
    if name == "default":
        raise HipercowError(
            "Can't delete the 'default' environment, which always exists\n"
            "To empty it, call hipercow_environment_create('default') with no packages or "
            "sources."
        )
    read_environment(root, name)
    os.unlink(environment_path(root, name))
    print(f"✔ Deleted environment '{name}'")


def hipercow_environment_show(name: str = "default", root=None) -> dict:
    """Print an environment, and what is provisioned for it.

    Args:
        name: the environment's name.
        root: the hipercow root (default: found from the working directory).

    Returns:
        The environment's record: name, packages, sources, globals.

    Raises:
        HipercowError: there is no such environment.
    """
    root = find_root(root)
    env = read_environment(root, name) or {
        "name": name,
        "packages": None,
        "sources": None,
        "globals": None,
    }
    print(f"── hipercow environment '{name}' ──")
    for line in describe(env):
        print(line)
    if name != "empty":
        print(f"• provisioned: {provision_summary(root, name)}")
    return env
