"""Provisioning: installing packages into the root, as a task, for an environment's tasks.

Each installation builds a fresh virtual environment (`--system-site-packages`, so the
interpreter's own packages stay available) with the cluster's own Python:

    hipercow/provision/<environment>/
      current.json              {"id": ...}: the installation tasks use (switched on success)
      <id>/record.json          what was asked, by which task, when, and what got installed
      <id>/venv/                the virtual environment

A failed installation never touches `current.json`, so tasks keep the previous one.
"""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import os
import shutil
import site
import subprocess
import sys
import time

from . import store
from .environment import check_name, read_environment, unquote
from .errors import HipercowError

METHODS = ("pip", "script")
ACTIVE = ("submitted", "running")


# ---- where things live -----------------------------------------------------------------
def provision_dir(root, environment: str) -> str:
    return os.path.join(root.hipercow, "provision", check_name(environment))


def build_dir(root, environment: str, build_id: str) -> str:
    return os.path.join(provision_dir(root, environment), build_id)


def read_record(root, environment: str, build_id: str) -> dict | None:
    return store.read_json_or(os.path.join(build_dir(root, environment, build_id),
                                           "record.json"))


def write_record(root, record: dict) -> None:
    store.write_json(os.path.join(build_dir(root, record["environment"], record["id"]),
                                  "record.json"), record)


def all_records(root, environment: str) -> list[dict]:
    """Every installation attempt for the environment, oldest first."""
    try:
        names = os.listdir(provision_dir(root, environment))
    except FileNotFoundError:
        return []
    records = [read_record(root, environment, n) for n in names if not n.endswith(".json")]
    return sorted((_settle(root, r) for r in records if r), key=lambda r: (r["created"], r["id"]))


def _settle(root, record: dict) -> dict:
    """An installation whose task was cancelled or died before finishing is a failure."""
    from .task import marker_status

    if record["status"] not in ACTIVE or not record.get("task"):
        return record
    status = marker_status(root, record["task"])
    if status in ("failure", "cancelled"):
        shutil.rmtree(os.path.join(build_dir(root, record["environment"], record["id"]), "venv"),
                      ignore_errors=True)
        record = {**record, "status": status, "finished": time.time(),
                  "error": f"the installation task ended with status '{status}'"}
        write_record(root, record)
    return record


def installations(root, environment: str) -> list[dict]:
    """The successful installations, oldest first."""
    return [r for r in all_records(root, environment) if r["status"] == "success"]


def own_record(root, environment: str) -> dict | None:
    """The environment's own current installation, or None."""
    pointer = store.read_json_or(os.path.join(provision_dir(root, environment), "current.json"))
    return read_record(root, environment, pointer["id"]) if pointer else None


def current_record(root, environment: str) -> dict | None:
    """The installation tasks of this environment use now: its own, else that of 'default'
    (the root's shared installation), else None."""
    record = own_record(root, environment)
    if record is None and environment != "default":
        record = own_record(root, "default")
    return record


def _new_build_id(root, environment: str) -> str:
    base = time.strftime("%Y%m%d%H%M%S")
    os.makedirs(provision_dir(root, environment), exist_ok=True)
    for n in range(1, 1000):
        build_id = base if n == 1 else f"{base}-{n}"
        try:
            os.mkdir(build_dir(root, environment, build_id))
            return build_id
        except FileExistsError:
            continue
    raise HipercowError("Could not choose a name for the installation")  # 1000 in a second


# ---- on the node -----------------------------------------------------------------------
def _python_version() -> str:
    return f"{sys.version_info.major}.{sys.version_info.minor}"


def activate_provisioned(root, environment: str, strict: bool = True) -> dict | None:
    """Put the environment's installed packages first on sys.path (and its bin on PATH).

    Returns the installation used, or None when nothing is provisioned. Calling it again
    in the same process does nothing more."""
    record = current_record(root, environment)
    if record is None:
        return None
    if record.get("python_version") != _python_version():
        if not strict:
            return None
        raise HipercowError(
            f"Environment '{environment}' was provisioned with Python "
            f"{record.get('python_version')}, but this is Python {_python_version()}\n"
            "Run hipercow_provision() again so the packages match this interpreter."
        )
    folder = build_dir(root, record["environment"], record["id"])
    before = list(sys.path)
    for relative in record["site_packages"]:
        path = os.path.join(folder, relative)
        if path not in before:
            site.addsitedir(path)
    added = [p for p in sys.path if p not in before]
    rest = [p for p in sys.path if p in before]
    system = set(site.getsitepackages()) | {site.getusersitepackages()}
    at = next((i for i, p in enumerate(rest) if p in system), len(rest))
    sys.path[:] = rest[:at] + added + rest[at:]
    bin_dir = os.path.join(folder, "venv", "bin")
    path_var = os.environ.get("PATH", "")
    if bin_dir not in path_var.split(os.pathsep):
        os.environ["PATH"] = os.pathsep.join(filter(None, [bin_dir, path_var]))
    os.environ["VIRTUAL_ENV"] = os.path.join(folder, "venv")
    import importlib

    importlib.invalidate_caches()
    return record


def _root_from_workdir(workdir: str) -> str:
    """The root on this node: the task runs in `<root>/<workdir>`."""
    path = os.getcwd()
    for part in workdir.split("/"):
        if part not in ("", "."):
            path = os.path.dirname(path)
    return path


def _run(command: list[str], what: str, **kwargs) -> None:
    """Run a command, streaming its output into the task's log; an error if it fails."""
    print(f"ℹ {what}", flush=True)
    with subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                          stdin=subprocess.DEVNULL, errors="replace", **kwargs) as proc:
        for line in proc.stdout:
            print(line, end="", flush=True)
    if proc.returncode != 0:
        raise HipercowError(f"{what} failed (exit status {proc.returncode})")


def _capture(command: list[str]) -> str:
    return subprocess.run(command, capture_output=True, text=True, check=True,
                          stdin=subprocess.DEVNULL).stdout


def _ensure_pip(venv: str) -> None:
    """Make `pip` in the venv install into the venv (the interpreter's own pip if it has
    one, else a fresh one from ensurepip)."""
    python = os.path.join(venv, "bin", "python")
    has_pip = subprocess.run([python, "-c", "import pip"], capture_output=True,
                             check=False).returncode == 0
    if not has_pip:
        try:
            _run([python, "-m", "ensurepip", "--default-pip"], "Installing pip")
        except HipercowError:
            raise HipercowError(
                "This Python has neither pip nor ensurepip, so nothing can be installed\n"
                "Install pip for the cluster's Python (e.g. Debian's python3-pip and "
                "python3-venv) or configure another Python."
            ) from None
        return
    for name in ("pip", "pip3"):
        wrapper = os.path.join(venv, "bin", name)
        store.write_text(wrapper, '#!/bin/sh\nexec "$(dirname "$0")/python" -m pip "$@"\n')
        os.chmod(wrapper, 0o755)


_SNAPSHOT = """
import json, sysconfig
from importlib import metadata
paths = sorted({sysconfig.get_path("purelib"), sysconfig.get_path("platlib")})
found = {}
for dist in metadata.distributions(path=paths):
    name = dist.metadata["Name"]
    if name and name.lower() not in found:
        found[name.lower()] = {"name": name, "version": dist.version}
print(json.dumps({"packages": sorted(found.values(), key=lambda p: p["name"].lower()),
                  "paths": paths}))
"""


def _snapshot(python: str) -> tuple[list[dict], list[str]]:
    """What the venv itself holds (name, version), and its site-packages folders."""
    found = json.loads(_capture([python, "-c", _SNAPSHOT]))
    return found["packages"], found["paths"]


def run_installation(workdir: str, environment: str, build_id: str) -> dict:
    """Build the installation `build_id` (runs as a task on the cluster)."""
    import platform
    import socket

    root_path = _root_from_workdir(workdir)
    from .root import Root

    root = Root(root_path)
    record = read_record(root, environment, build_id)
    request = record["request"]
    folder = build_dir(root, environment, build_id)
    venv = os.path.join(folder, "venv")
    python = os.path.join(venv, "bin", "python")
    record.update(status="running", started=time.time(), host=socket.gethostname(),
                  python=sys.executable, python_version=_python_version(),
                  platform=platform.platform())
    write_record(root, record)
    print(f"ℹ Provisioning environment '{environment}' ({build_id}) with '{request['method']}'"
          f" using {sys.executable} (Python {platform.python_version()})", flush=True)
    env = {**os.environ, "PIP_DISABLE_PIP_VERSION_CHECK": "1", "VIRTUAL_ENV": venv,
           "PATH": os.pathsep.join([os.path.join(venv, "bin"), os.environ.get("PATH", "")])}
    env.pop("PYTHONHOME", None)
    try:
        _run([sys.executable, "-m", "venv", "--without-pip", "--system-site-packages", venv],
             f"Creating a virtual environment in {os.path.relpath(venv, root.path)}")
        _ensure_pip(venv)
        if request["method"] == "pip":
            if request.get("file") and not request["file"].endswith(".toml"):
                targets = ["-r", os.path.join(root.path, request["file"])]
            else:
                targets = list(request["requirements"])
            _run([python, "-m", "pip", "install", *targets], "Installing with pip: " + " ".join(
                targets), cwd=root.path, env=env)
        else:
            _run(["bash", "-e", os.path.join(root.path, request["script"])],
                 f"Running {request['script']}", cwd=root.path, env=env)
        packages, paths = _snapshot(python)
    except BaseException as e:
        shutil.rmtree(venv, ignore_errors=True)
        record.update(status="failure", finished=time.time(), error=str(e))
        write_record(root, record)
        raise
    record.update(status="success", finished=time.time(), packages=packages,
                  site_packages=[os.path.relpath(p, folder) for p in paths])
    write_record(root, record)
    store.write_json(os.path.join(provision_dir(root, environment), "current.json"),
                     {"id": build_id})
    print(f"✔ Installed {len(packages)} package{'' if len(packages) == 1 else 's'} into "
          f"the environment: {', '.join(p['name'] + ' ' + p['version'] for p in packages)}",
          flush=True)
    return {"id": build_id, "packages": packages}


# ---- what to install -------------------------------------------------------------------
def _read_pyproject_dependencies(path: str) -> list[str]:
    try:
        import tomllib
    except ImportError:  # Python 3.10
        try:
            import tomli as tomllib
        except ImportError:
            raise HipercowError(
                "Reading pyproject.toml needs Python 3.11 (or the 'tomli' package)\n"
                "Write the requirements to requirements.txt instead."
            ) from None
    with open(path, "rb") as f:
        try:
            data = tomllib.load(f)
        except tomllib.TOMLDecodeError as e:
            raise HipercowError(f"Could not read '{os.path.basename(path)}': {e}") from None
    dependencies = (data.get("project") or {}).get("dependencies")
    if not dependencies:
        raise HipercowError(
            f"'{os.path.basename(path)}' lists no [project] dependencies\n"
            "Add them there, or write requirements.txt, or pass requirements=[...]."
        )
    return list(dependencies)


def _root_file(root, path: str, what: str) -> str:
    full = os.path.realpath(os.path.join(root.path, path))
    rel = os.path.relpath(full, root.path)
    if rel == os.pardir or rel.startswith(os.pardir + os.sep):
        raise HipercowError(f"The {what} '{path}' is not inside the hipercow root "
                            f"'{root.path}'\nMove it into the root, where the cluster sees it.")
    if not os.path.isfile(full):
        raise HipercowError(f"The {what} '{path}' was not found\n"
                            f"Looking relative to '{root.path}'")
    return rel


def resolve_request(root, method: str | None, options: dict) -> dict:
    """What an installation would do, from the method, its options and the root's files."""
    options = dict(options)
    if method is None:
        if "requirements" in options or "file" in options:
            method = "pip"
        elif "script" in options or os.path.isfile(os.path.join(root.path, "provision.sh")):
            method = "script"
        elif any(os.path.isfile(os.path.join(root.path, f))
                 for f in ("requirements.txt", "pyproject.toml")):
            method = "pip"
        else:
            raise HipercowError(
                "Don't know what to provision: the root has no provision.sh, requirements.txt "
                "or pyproject.toml\nWrite one of those, or pass requirements=[...] "
                "(e.g. hipercow_provision(requirements=['numpy']))."
            )
    if method not in METHODS:
        raise HipercowError(f"Unknown provisioning method '{method}'\n"
                            "Valid methods are 'pip' and 'script' (or None to choose from the "
                            "root's files)")
    allowed = {"pip": ("requirements", "file"), "script": ("script",)}[method]
    unknown = sorted(set(options) - set(allowed))
    if unknown:
        raise HipercowError(
            f"Unknown option{'s' if len(unknown) > 1 else ''} for method '{method}': "
            f"{', '.join(unknown)}\nValid options are: {', '.join(allowed)}")
    if method == "script":
        script = _root_file(root, options.get("script", "provision.sh"), "script")
        with open(os.path.join(root.path, script), encoding="utf-8", errors="replace") as f:
            request = {"method": "script", "script": script, "text": f.read()}
    elif options.get("requirements") is not None:
        requirements = options["requirements"]
        requirements = [requirements] if isinstance(requirements, str) else requirements
        if (not isinstance(requirements, (list, tuple)) or not requirements
                or not all(isinstance(r, str) and r.strip() for r in requirements)):
            raise HipercowError("'requirements' must be a non-empty list of requirement "
                                "strings, like ['numpy>=1.26', 'cowsay']")
        request = {"method": "pip", "file": None, "requirements": [r.strip() for r in
                                                                   requirements]}
    else:
        name = options.get("file") or ("requirements.txt" if os.path.isfile(
            os.path.join(root.path, "requirements.txt")) else "pyproject.toml")
        rel = _root_file(root, name, "requirements file")
        full = os.path.join(root.path, rel)
        if rel.endswith(".toml"):
            request = {"method": "pip", "file": rel,
                       "requirements": _read_pyproject_dependencies(full)}
        else:
            with open(full, encoding="utf-8") as f:
                text = f.read()
            lines = [ln.strip() for ln in text.splitlines()
                     if ln.strip() and not ln.strip().startswith("#")]
            if not lines:
                raise HipercowError(f"'{rel}' lists no requirements")
            request = {"method": "pip", "file": rel, "requirements": lines}
    request["hash"] = hashlib.sha256(json.dumps(request, sort_keys=True).encode()).hexdigest()
    return request


def describe_request(request: dict) -> str:
    if request["method"] == "script":
        return f"script {request['script']}"
    where = f" (from {request['file']})" if request.get("file") else ""
    return f"pip {' '.join(request['requirements'])}{where}"


# ---- before provisioning: tasks that would notice ----------------------------------------
def _active_users(root, environment: str) -> list[str]:
    """Queued or running tasks that would load this environment's installation."""
    from .api import task_list

    def affected(name: str | None) -> bool:
        if name in (None, "empty"):
            return False
        if name == environment:
            return True
        # an environment without its own installation uses the default one
        return environment == "default" and own_record(root, name) is None

    users = []
    for task_id in task_list(with_status=list(ACTIVE), root=root):
        data = store.read_json_or(root.task_file(task_id, "data.json")) or {}
        parallel = data.get("parallel") or {}
        if affected(data.get("environment")) or affected(parallel.get("environment")):
            users.append(task_id)
    return users


def _in_kernel() -> bool:
    shell = sys.modules.get("IPython") and getattr(
        sys.modules["IPython"], "get_ipython", lambda: None)()
    return getattr(shell, "kernel", None) is not None


def _ask(question: str) -> bool | None:
    """True/False from the user, or None when nobody can be asked."""
    if not (sys.stdin is not None and sys.stdin.isatty()) and not _in_kernel():
        return None
    try:
        answer = input(question)
    except Exception:  # EOF, or a frontend that can't read input
        return None
    return answer.strip().lower() in ("y", "yes")


def _check_running(root, environment: str, check_running_tasks: bool) -> None:
    from .api import task_status

    for record in all_records(root, environment):
        if record["status"] in ("submitted", "running") and \
                task_status(record["task"], root=root) in ACTIVE:
            raise HipercowError(
                f"Environment '{environment}' is already being provisioned by task "
                f"'{record['task']}'\nWait for it with task_wait('{record['task']}') "
                "(or cancel it) before provisioning again.")
    if not check_running_tasks:
        return
    users = _active_users(root, environment)
    if not users:
        return
    shown = ", ".join(users[:5]) + (f" and {len(users) - 5} more" if len(users) > 5 else "")
    what = (f"{len(users)} task{'s' if len(users) > 1 else ''} using environment "
            f"'{environment}' {'are' if len(users) > 1 else 'is'} queued or running: {shown}\n"
            "Running tasks keep the installation they started with; queued ones will start "
            "with the new one.")
    answer = _ask(f"{what}\nProvision anyway? [y/N] ")
    if answer is None:
        raise HipercowError(
            f"{what}\nWait for them (task_wait) or cancel them (task_cancel) first, or pass "
            "check_running_tasks=False (--force) to provision anyway.")
    if not answer:
        raise HipercowError("Provisioning cancelled; nothing was installed")


# ---- the public functions --------------------------------------------------------------
def _root(root):
    from .root import find_root

    return find_root(root)


def _check_environment(root, environment: str) -> None:
    check_name(environment)
    if environment == "empty":
        raise HipercowError("Can't provision the 'empty' environment, which never loads "
                            "anything\nProvision 'default' or another environment.")
    read_environment(root, environment)


def _elapsed(seconds: float) -> str:
    return f"{seconds:.1f} s" if seconds < 120 else f"{seconds / 60:.1f} min"


def hipercow_provision(method: str | None = None, environment: str = "default", *,
                       driver=None, check_running_tasks: bool = True, resources=None,
                       show_log: bool = True, root=None, **options) -> dict:
    """Install packages for an environment's tasks, as a task on the cluster.

    method: 'pip' (options `requirements=[...]` or `file=`; default requirements.txt, else
    pyproject.toml's dependencies) or 'script' (option `script=`, default provision.sh);
    None picks from the options and the root's files. Returns the installation's record."""
    from .api import task_create_call, task_log_watch, task_status
    from .configure import require_driver

    root = _root(root)
    _check_environment(root, environment)
    driver = require_driver(root, driver)
    request = resolve_request(root, method, options)
    _check_running(root, environment, check_running_tasks)
    build_id = _new_build_id(root, environment)
    record = {"id": build_id, "environment": environment, "request": request,
              "status": "submitted", "created": time.time(), "task": None}
    write_record(root, record)
    try:
        task = task_create_call(run_installation,
                                (root.relative_workdir(), environment, build_id),
                                name=f"provision:{environment}", environment="empty",
                                driver=driver, resources=resources, root=root)
    except BaseException:
        shutil.rmtree(build_dir(root, environment, build_id), ignore_errors=True)
        raise
    record = {**(read_record(root, environment, build_id) or record), "task": task.id}
    write_record(root, record)
    print(f"ℹ Provisioning environment '{environment}' with {describe_request(request)}")
    print(f"ℹ Installation {build_id} runs as task '{task.id}' on '{driver}'")
    started = time.monotonic()
    ok = task_log_watch(task.id, root=root, out=None if show_log else io.StringIO())
    if ok is None:
        print(f"ℹ Stopped watching; the installation continues as task '{task.id}'")
        return read_record(root, environment, build_id)
    elapsed = _elapsed(time.monotonic() - started)
    if not ok:
        status = task_status(task.id, root=root)
        previous = current_record(root, environment)
        kept = (f"Tasks keep using installation {previous['id']}." if previous
                else "Nothing was installed for this environment.")
        raise HipercowError(f"Installation failed after {elapsed} with status '{status}'\n"
                            f"{kept} See the log with task_log_show('{task.id}').")
    print(f"✔ Installation script finished successfully in {elapsed}")
    return read_record(root, environment, build_id)


def _ago(when: float) -> str:
    from .details import pretty_dt

    return f"{pretty_dt(time.time() - when)} ago"


def _line(index: int | None, record: dict, total: int, current: str | None) -> str:
    when = _ago(record["created"])
    if index is None:
        return (f"✖ {record['id']} ({when}) {record['status']}: "
                f"{describe_request(record['request'])}")
    mark = " (current)" if record["id"] == current else ""
    return (f"• {index}: {record['id']} ({when}) [{index - total}]{mark} "
            f"{describe_request(record['request'])}")


def hipercow_provision_list(environment: str = "default", root=None) -> list[dict]:
    """The installations made for an environment (successful ones numbered, oldest first)."""
    root = _root(root)
    check_name(environment)
    records = all_records(root, environment)
    done = [r for r in records if r["status"] == "success"]
    current = (own_record(root, environment) or {}).get("id")
    failed = len(records) - len(done)
    print(f"{len(done)} installation{'' if len(done) == 1 else 's'} recorded for environment "
          f"'{environment}'" + (f" (and {failed} not successful)" if failed else ""))
    for record in records:
        index = done.index(record) + 1 if record in done else None
        print(_line(index, record, len(done), current))
    return records


def hipercow_provision_check(method: str | None = None, environment: str = "default",
                             root=None, **options) -> bool:
    """Whether the current installation was made from exactly this request; installations
    matching it are marked (*)."""
    root = _root(root)
    _check_environment(root, environment)
    request = resolve_request(root, method, options)
    done = installations(root, environment)
    current = (own_record(root, environment) or {}).get("id")
    print(f"Request: {describe_request(request)}")
    for index, record in enumerate(done, 1):
        star = " (*)" if record["request"]["hash"] == request["hash"] else ""
        print(_line(index, record, len(done), current) + star)
    matched = any(r["id"] == current and r["request"]["hash"] == request["hash"] for r in done)
    print("✔ The current installation matches this request" if matched else
          "ℹ The current installation does not match this request; run hipercow_provision()")
    return matched


def _pick(done: list[dict], which) -> dict | None:
    if which is None or which == float("-inf"):
        return None
    if isinstance(which, str):
        for record in done:
            if record["id"] == which:
                return record
        raise HipercowError(f"No installation '{which}'")
    if not isinstance(which, int) or isinstance(which, bool):
        raise HipercowError(f"Choose an installation by number or id, not {which!r}")
    position = which - 1 if which > 0 else len(done) - 1 + which
    if not 0 <= position < len(done):
        raise HipercowError(
            f"No installation {which}: {len(done)} installation"
            f"{'' if len(done) == 1 else 's'} recorded\nUse 0 for the latest, -1 for the one "
            "before, or 1, 2, ... counting from the first (see hipercow_provision_list()).")
    return done[position]


def _canonical(name: str) -> str:
    return name.lower().replace("_", "-").replace(".", "-")


def hipercow_provision_compare(curr=0, prev=-1, environment: str = "default",
                               root=None) -> dict:
    """What changed between two installations (0 = latest, -1 = the one before; or 1, 2...
    from the first, or an id); `prev=None` compares with nothing installed."""
    root = _root(root)
    check_name(environment)
    done = installations(root, environment)
    new, old = _pick(done, curr), _pick(done, prev)
    if new is None:
        raise HipercowError("'curr' must name an installation")
    before = {_canonical(p["name"]): (p["name"], p["version"]) for p in (old or {}).get(
        "packages", [])}
    after = {_canonical(p["name"]): (p["name"], p["version"]) for p in new["packages"]}
    result = {
        "added": {after[k][0]: after[k][1] for k in sorted(after.keys() - before.keys())},
        "removed": {before[k][0]: before[k][1] for k in sorted(before.keys() - after.keys())},
        "changed": {after[k][0]: (before[k][1], after[k][1]) for k in sorted(
            after.keys() & before.keys()) if before[k][1] != after[k][1]},
        "unchanged": {after[k][0]: after[k][1] for k in sorted(
            after.keys() & before.keys()) if before[k][1] == after[k][1]},
    }
    print(f"── Comparing installations of environment '{environment}' ──")
    print(f"  previous: {old['id'] + ' (' + _ago(old['created']) + ')' if old else '(nothing)'}")
    print(f"  current:  {new['id']} ({_ago(new['created'])})")
    for key, label in (("added", "Added"), ("removed", "Removed"), ("changed", "Changed"),
                       ("unchanged", "Unchanged")):
        items = result[key]
        print(f"{label} ({len(items)})" + (":" if items else ""))
        for name, version in items.items():
            shown = f"{version[0]} → {version[1]}" if key == "changed" else version
            print(f"  • {name} {shown}")
    return result


def provision_summary(root, environment: str) -> str:
    """One line on what is provisioned for an environment (for environment_show)."""
    record = current_record(root, environment)
    if record is None:
        return "(nothing; hipercow_provision() installs packages)"
    n = len(record.get("packages") or [])
    shared = "" if record["environment"] == environment else "'default' installation "
    return (f"{shared}{record['id']} ({_ago(record['created'])}; {n} package"
            f"{'' if n == 1 else 's'}: {describe_request(record['request'])})")


# ---- command line and magic ------------------------------------------------------------
def add_provision_parser(subparsers) -> argparse.ArgumentParser:
    """Register `provision [run|list|check|compare]` on an argparse subparsers."""
    p = subparsers.add_parser("provision", help="install packages for an environment's tasks")
    p.add_argument("action", nargs="?", default="run", choices=["run", "list", "check",
                                                                "compare"])
    p.add_argument("--method", choices=METHODS)
    p.add_argument("--environment", default="default")
    p.add_argument("--requirements", nargs="+", metavar="REQ",
                   help="pip: requirement strings (instead of requirements.txt)")
    p.add_argument("--file", help="pip: a requirements file or pyproject.toml in the root")
    p.add_argument("--script", help="script: the shell script to run (default provision.sh)")
    p.add_argument("--driver")
    p.add_argument("--force", action="store_true",
                   help="run even if tasks of the environment are queued or running")
    p.add_argument("--curr", default="0", help="compare: the newer installation (0 = latest)")
    p.add_argument("--prev", default="-1", help="compare: the older one ('none' = nothing)")
    p.set_defaults(func=provision_command)
    return p


def _which(text: str):
    if text.lower() in ("none", "null", "-inf"):
        return None
    try:
        return int(text)
    except ValueError:
        return text


def provision_command(args) -> object:
    """Run a parsed `provision ...` command (see add_provision_parser)."""
    if args.action == "list":
        return hipercow_provision_list(args.environment)
    if args.action == "compare":
        return hipercow_provision_compare(_which(args.curr), _which(args.prev),
                                          environment=args.environment)
    options = {"requirements": unquote(args.requirements)}
    options.update((k, unquote([v])[0]) for k, v in (("file", args.file),
                                                     ("script", args.script)) if v)
    options = {k: v for k, v in options.items() if v is not None}
    if args.action == "check":
        return hipercow_provision_check(args.method, args.environment, **options)
    return hipercow_provision(args.method, args.environment, driver=args.driver,
                              check_running_tasks=not args.force, **options)


def provision_cli(argv: list[str]) -> object:
    """Parse and run `provision ...` arguments (for front ends without their own parser)."""
    top = argparse.ArgumentParser(prog="hipercow", add_help=False)
    sub = top.add_subparsers(dest="command", required=True)
    add_provision_parser(sub)
    return provision_command(top.parse_args(["provision", *argv]))
