"""Loading an environment on the node: its provisioned packages, imports and source files.

Run as `python -m hipercow_magic.node.environment ROOT SPEC OUT` it loads an environment in a
fresh process and writes the names it defines (used to discover an environment's globals).
"""

from __future__ import annotations

import importlib
import json
import os
import sys
import traceback

from hipercow_magic.core import store
from hipercow_magic.core.environment import describe, parse_package, read_environment
from hipercow_magic.core.provision import current_record
from hipercow_magic.core.root import Root


def run_source(root, source: str, namespace: dict) -> None:
    """Run a source file into `namespace` (as hipercow sources into the task's environment)."""
    path = os.path.join(root.path, source)
    with open(path, encoding="utf-8") as f:
        code = compile(f.read(), path, "exec")
    missing = object()
    previous = namespace.get("__file__", missing)
    namespace["__file__"] = path
    try:
        exec(code, namespace)
    finally:
        if previous is missing:
            namespace.pop("__file__", None)
        else:
            namespace["__file__"] = previous


def apply_environment(root, env: dict, namespace: dict) -> None:
    """Import the packages, then run the sources in order from the root directory."""
    for package in env.get("packages") or []:
        module, binding, aliased = parse_package(package)
        imported = importlib.import_module(module)
        namespace[binding] = imported if aliased else sys.modules[binding]
    if env.get("sources"):
        here = os.getcwd()
        os.chdir(root.path)
        try:
            for source in env["sources"]:
                run_source(root, source, namespace)
        finally:
            os.chdir(here)


def _activate(root, name: str, strict: bool = True) -> dict | None:
    """The environment's current installation, activated; None when it has none (then
    nothing of the provisioning code is imported).
    """
    record = current_record(root, name)
    if record is None:
        return None
    from hipercow_magic.node.provision import activate_provisioned

    return activate_provisioned(root, name, record, strict=strict)


def load_environment(root, name: str, namespace: dict, verbose: bool = True) -> None:
    """Activate what is provisioned for the environment, import its packages, then run its
    sources into `namespace`. Safe to call again in the same process (pool workers).
    """
    if name == "empty":
        return
    env = read_environment(root, name) or {"name": name}
    record = _activate(root, name)
    if verbose and (record or env.get("packages") or env.get("sources")):
        print(f"ℹ Loading environment '{name}'...")
        for line in describe(env):
            print(line)
        if record:
            shared = "" if record["environment"] == name else " (the 'default' installation)"
            print(f"• provisioned: {record['id']}{shared}")
    apply_environment(root, env, namespace)


def _discover_main(root_path: str, spec: str, out: str) -> None:
    """Subprocess side of discover_globals: load the environment, write the names it made."""
    root = Root(root_path)
    namespace: dict = {"__name__": "__main__"}
    env = json.loads(spec)
    _activate(root, env["name"], strict=False)
    packages = {parse_package(p)[1] for p in env.get("packages") or []}
    try:
        apply_environment(root, env, namespace)
    except Exception as e:
        where = [
            f
            for f in traceback.extract_tb(e.__traceback__)
            if f.filename.startswith(root.path + os.sep)
        ]
        at = (
            f" (in {os.path.relpath(where[-1].filename, root.path)}, line {where[-1].lineno})"
            if where
            else ""
        )
        sys.exit(f"{type(e).__name__}: {e}{at}")
    names = sorted(n for n in namespace if not n.startswith("__") and n not in packages)
    store.write_json(out, names)


if __name__ == "__main__":
    _discover_main(*sys.argv[1:4])
