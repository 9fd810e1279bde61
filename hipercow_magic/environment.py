"""Environments: the packages and source files loaded on the node before a task's code.

An environment is saved as `hipercow/environments/<name>.json` holding its name, packages,
sources and globals. `default` and `empty` always exist; `empty` loads nothing at all (not even
a provisioned virtual environment).
"""

from __future__ import annotations

import argparse
import ast
import importlib
import json
import os
import re
import subprocess
import sys
import tempfile
import traceback

from . import store
from .errors import HipercowError

SPECIAL = ("default", "empty")
_NAME_RE = re.compile(r"^[A-Za-z0-9_-]+$")
_PACKAGE_RE = re.compile(
    r"^\s*([A-Za-z_]\w*(?:\.[A-Za-z_]\w*)*)(?:\s+as\s+([A-Za-z_]\w*))?\s*$")
_PIP_INSTALL_RE = re.compile(r"\bpip3?(?:\s+-\S+)*\s+install\b")
_PACKAGE_PARENT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


# ---- names and files -------------------------------------------------------------------
def check_name(name: str) -> str:
    """The name if it is a valid environment name (letters, digits, '_' and '-')."""
    if not isinstance(name, str) or not _NAME_RE.match(name):
        raise HipercowError(
            f"Invalid environment name '{name}'\n"
            "Use letters, digits, '_' and '-' only."
        )
    return name


def environment_path(root, name: str) -> str:
    return os.path.join(root.environments, f"{check_name(name)}.json")


def _saved_names(root) -> list[str]:
    try:
        return sorted(n[:-5] for n in os.listdir(root.environments)
                      if n.endswith(".json") and not n.startswith("."))
    except FileNotFoundError:
        return []


def _valid_options(root) -> str:
    names = list(SPECIAL) + [n for n in _saved_names(root) if n not in SPECIAL]
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
    'scipy.stats' -> ('scipy.stats', 'scipy', False), as the `import` statement binds."""
    match = _PACKAGE_RE.match(spec) if isinstance(spec, str) else None
    if not match:
        raise HipercowError(
            f"Invalid package '{spec}'\n"
            "Give a module name to import, like 'numpy', 'scipy.stats' or 'numpy as np'."
        )
    module, alias = match.groups()
    return module, alias or module.split(".")[0], alias is not None


def environment_globals(root, name: str) -> set[str]:
    """Names the environment defines on the node (its globals and imported packages),
    which are therefore not captured from the caller."""
    if name == "empty":
        return set()
    env = read_environment(root, name) or {}
    names = set(env.get("globals") or [])
    names.update(parse_package(p)[1] for p in env.get("packages") or [])
    return names


# ---- creating --------------------------------------------------------------------------
def _as_list(value, what: str) -> list[str] | None:
    if value is None:
        return None
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, (list, tuple)) or not all(isinstance(v, str) for v in value):
        raise HipercowError(f"'{what}' must be a string or a list of strings")
    return list(value) or None


def _check_sources(root, sources: list[str]) -> list[str]:
    """Sources as paths relative to the root; each must be an existing file inside it."""
    relative, missing, directories = [], [], []
    for source in sources:
        full = os.path.realpath(os.path.join(root.path, source))
        rel = os.path.relpath(full, root.path)
        if rel == os.pardir or rel.startswith(os.pardir + os.sep):
            raise HipercowError(
                f"Source '{source}' is outside the hipercow root\n"
                f"Sources are files inside the root ('{root.path}'), where the cluster sees them."
            )
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
        found += [i.value for i in items if isinstance(i, ast.Constant)
                  and isinstance(i.value, str)]
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


def _check_globals(globals_) -> list[str] | None:
    names = _as_list(globals_, "globals")
    for name in names or []:
        if not name.isidentifier():
            raise HipercowError(f"Invalid name in 'globals': '{name}'")
    return names


def discover_globals(root, name: str, packages: list[str] | None,
                     sources: list[str] | None) -> list[str]:
    """The names the environment defines, found by loading it in a fresh Python process."""
    print(f"ℹ Creating '{name}' in a clean Python process; this may take a moment")
    env = {"name": name, "packages": packages, "sources": sources}
    fd, out = tempfile.mkstemp(prefix="hipercow-globals-", suffix=".json")
    os.close(fd)
    try:
        proc = subprocess.run(
            [sys.executable, "-m", "hipercow_magic.environment", root.path, json.dumps(env), out],
            cwd=root.path, capture_output=True, text=True, stdin=subprocess.DEVNULL, check=False,
            env={**os.environ, "PYTHONPATH": os.pathsep.join(
                filter(None, [_PACKAGE_PARENT, os.environ.get("PYTHONPATH")]))})
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


def new_environment(root, name: str, packages=None, sources=None, globals_=None,
                    check: bool = True) -> dict:
    """A checked environment record (nothing is written)."""
    packages = _as_list(packages, "packages")
    for package in packages or []:
        parse_package(package)
    sources = _as_list(sources, "sources")
    if sources:
        sources = _check_sources(root, sources)
        if check:
            for source in sources:
                check_source(root, source)
    if globals_ is True:
        globals_ = discover_globals(root, name, packages, sources)
    elif globals_ is False:
        globals_ = None
    else:
        globals_ = _check_globals(globals_)
    return {"name": name, "packages": packages, "sources": sources, "globals": globals_ or None}


def _root(root):
    from .root import find_root

    return find_root(root)


def hipercow_environment_create(name: str = "default", packages=None, sources=None,
                                globals=None, overwrite: bool = True, check: bool = True,
                                root=None) -> dict:
    """Create or update an environment: `packages` imported, then `sources` (files relative
    to the root) run, before each task's code; `globals` names they define (True: discover)."""
    root = _root(root)
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
    """'default', 'empty', then every environment created in this root."""
    root = _root(root)
    return list(SPECIAL) + [n for n in _saved_names(root) if n not in SPECIAL]


def hipercow_environment_exists(name: str = "default", root=None) -> bool:
    """Whether `name` is an environment of this root (`default` and `empty` always are)."""
    root = _root(root)
    check_name(name)
    return name in SPECIAL or os.path.exists(environment_path(root, name))


def hipercow_environment_delete(name: str = "default", root=None) -> None:
    """Delete an environment (not `default` or `empty`)."""
    root = _root(root)
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


def describe(env: dict) -> list[str]:
    """hipercow's bullets for an environment's packages, sources and globals."""
    def items(key: str) -> str:
        return ", ".join(env.get(key) or []) or "(none)"

    return [f"• packages: {items('packages')}", f"• sources: {items('sources')}",
            f"• globals: {items('globals')}"]


def hipercow_environment_show(name: str = "default", root=None) -> dict:
    """Print an environment (and what is provisioned for it); returns its record."""
    from .provision import provision_summary

    root = _root(root)
    env = read_environment(root, name) or {"name": name, "packages": None, "sources": None,
                                            "globals": None}
    print(f"── hipercow environment '{name}' ──")
    for line in describe(env):
        print(line)
    if name != "empty":
        print(f"• provisioned: {provision_summary(root, name)}")
    return env


# ---- on the node -----------------------------------------------------------------------
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


def load_environment(root, name: str, namespace: dict, verbose: bool = True) -> None:
    """Activate what is provisioned for the environment, import its packages, then run its
    sources into `namespace`. Safe to call again in the same process (pool workers)."""
    from .provision import activate_provisioned

    if name == "empty":
        return
    env = read_environment(root, name) or {"name": name}
    record = activate_provisioned(root, name)
    if verbose and (record or env.get("packages") or env.get("sources")):
        print(f"ℹ Loading environment '{name}'...")
        for line in describe(env):
            print(line)
        if record:
            shared = "" if record["environment"] == name else " (the 'default' installation)"
            print(f"• provisioned: {record['id']}{shared}")
    apply_environment(root, env, namespace)


# ---- command line and magic ------------------------------------------------------------
def add_environment_parser(subparsers) -> argparse.ArgumentParser:
    """Register `environment {list,show,create,delete,exists}` on an argparse subparsers."""
    p = subparsers.add_parser("environment", help="create, list, show and delete environments")
    p.add_argument("action", choices=["list", "show", "create", "delete", "exists"])
    p.add_argument("name", nargs="?", default="default")
    p.add_argument("--packages", nargs="+", metavar="MODULE",
                   help="create: modules to import ('numpy', 'numpy as np')")
    p.add_argument("--sources", nargs="+", metavar="FILE",
                   help="create: files (relative to the root) to run, in order")
    p.add_argument("--globals", nargs="+", metavar="NAME", dest="globals_",
                   help="create: names the sources define, or 'auto' to discover them")
    p.add_argument("--no-overwrite", action="store_true",
                   help="create: fail if the environment exists")
    p.add_argument("--no-check", action="store_true", help="create: don't check the sources")
    p.set_defaults(func=environment_command)
    return p


def unquote(values: list[str] | None) -> list[str] | None:
    """Drop quotes that a magic's argument splitting keeps ('"numpy as np"')."""
    if values is None:
        return None
    return [v[1:-1] if len(v) > 1 and v[0] == v[-1] and v[0] in "'\"" else v for v in values]


def environment_command(args) -> object:
    """Run a parsed `environment ...` command (see add_environment_parser)."""
    if args.action == "list":
        names = hipercow_environment_list()
        for name in names:
            print(name)
        return names
    if args.action == "show":
        return hipercow_environment_show(args.name)
    if args.action == "exists":
        found = hipercow_environment_exists(args.name)
        print("yes" if found else "no")
        return found
    if args.action == "delete":
        return hipercow_environment_delete(args.name)
    globals_ = unquote(args.globals_)
    if globals_ == ["auto"]:
        globals_ = True
    return hipercow_environment_create(args.name, packages=unquote(args.packages),
                                       sources=unquote(args.sources),
                                       globals=globals_, overwrite=not args.no_overwrite,
                                       check=not args.no_check)


def environment_cli(argv: list[str]) -> object:
    """Parse and run `environment ...` arguments (for front ends without their own parser)."""
    top = argparse.ArgumentParser(prog="hipercow", add_help=False)
    sub = top.add_subparsers(dest="command", required=True)
    add_environment_parser(sub)
    args = top.parse_args(["environment", *argv])
    return environment_command(args)


def _discover_main(root_path: str, spec: str, out: str) -> None:
    """Subprocess side of discover_globals: load the environment, write the names it made."""
    from .root import Root

    root = Root(root_path)
    namespace: dict = {"__name__": "__main__"}
    env = json.loads(spec)
    from .provision import activate_provisioned

    activate_provisioned(root, env["name"], strict=False)
    packages = {parse_package(p)[1] for p in env.get("packages") or []}
    try:
        apply_environment(root, env, namespace)
    except Exception as e:
        where = [f for f in traceback.extract_tb(e.__traceback__)
                 if f.filename.startswith(root.path + os.sep)]
        at = f" (in {os.path.relpath(where[-1].filename, root.path)}, line {where[-1].lineno})" \
            if where else ""
        sys.exit(f"{type(e).__name__}: {e}{at}")
    names = sorted(n for n in namespace if not n.startswith("__") and n not in packages)
    store.write_json(out, names)


if __name__ == "__main__":
    _discover_main(*sys.argv[1:4])
