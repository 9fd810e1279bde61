"""Provisioning on the node: building an installation (a virtual environment) and putting the
current one first on the import path of a task.
"""

from __future__ import annotations

import importlib
import json
import os
import shutil
import site
import subprocess
import sys
import time

from hipercow_magic.core import store
from hipercow_magic.core.errors import HipercowError
from hipercow_magic.core.provision import (
    build_dir,
    provision_dir,
    read_record,
    write_record,
)
from hipercow_magic.core.root import Root
from hipercow_magic.core.versions import python_version


def activate_provisioned(root, environment: str, record: dict, strict: bool = True) -> dict | None:
    """Put the installed packages of `record` (the environment's current installation,
    core.provision.current_record) first on sys.path, and its bin on PATH.

    Returns the installation used, or None when it was made for another Python and
    `strict` is False. Calling it again in the same process does nothing more.
    """
    if record.get("python_version") != python_version():
        if not strict:
            return None
        raise HipercowError(
            f"Environment '{environment}' was provisioned with Python "
            f"{record.get('python_version')}, but this is Python {python_version()}\n"
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
    with subprocess.Popen(
        command,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        stdin=subprocess.DEVNULL,
        errors="replace",
        **kwargs,
    ) as proc:
        for line in proc.stdout:
            print(line, end="", flush=True)
    if proc.returncode != 0:
        raise HipercowError(f"{what} failed (exit status {proc.returncode})")


def _capture(command: list[str]) -> str:
    return subprocess.run(
        command, capture_output=True, text=True, check=True, stdin=subprocess.DEVNULL
    ).stdout


def _ensure_pip(venv: str) -> None:
    """Make `pip` in the venv install into the venv (the interpreter's own pip if it has
    one, else a fresh one from ensurepip).
    """
    python = os.path.join(venv, "bin", "python")
    has_pip = (
        subprocess.run([python, "-c", "import pip"], capture_output=True, check=False).returncode
        == 0
    )
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
    root = Root(root_path)
    record = read_record(root, environment, build_id)
    request = record["request"]
    folder = build_dir(root, environment, build_id)
    venv = os.path.join(folder, "venv")
    python = os.path.join(venv, "bin", "python")
    record.update(
        status="running",
        started=time.time(),
        host=socket.gethostname(),
        python=sys.executable,
        python_version=python_version(),
        platform=platform.platform(),
    )
    write_record(root, record)
    print(
        f"ℹ Provisioning environment '{environment}' ({build_id}) with '{request['method']}'"
        f" using {sys.executable} (Python {platform.python_version()})",
        flush=True,
    )
    env = {
        **os.environ,
        "PIP_DISABLE_PIP_VERSION_CHECK": "1",
        "VIRTUAL_ENV": venv,
        "PATH": os.pathsep.join([os.path.join(venv, "bin"), os.environ.get("PATH", "")]),
    }
    env.pop("PYTHONHOME", None)
    try:
        _run(
            [sys.executable, "-m", "venv", "--without-pip", "--system-site-packages", venv],
            f"Creating a virtual environment in {os.path.relpath(venv, root.path)}",
        )
        _ensure_pip(venv)
        if request["method"] == "pip":
            if request.get("file") and not request["file"].endswith(".toml"):
                targets = ["-r", os.path.join(root.path, request["file"])]
            else:
                targets = list(request["requirements"])
            _run(
                [python, "-m", "pip", "install", *targets],
                "Installing with pip: " + " ".join(targets),
                cwd=root.path,
                env=env,
            )
        else:
            _run(
                ["bash", "-e", os.path.join(root.path, request["script"])],
                f"Running {request['script']}",
                cwd=root.path,
                env=env,
            )
        packages, paths = _snapshot(python)
    except BaseException as e:
        shutil.rmtree(venv, ignore_errors=True)
        record.update(status="failure", finished=time.time(), error=str(e))
        write_record(root, record)
        raise
    record.update(
        status="success",
        finished=time.time(),
        packages=packages,
        site_packages=[os.path.relpath(p, folder) for p in paths],
    )
    write_record(root, record)
    store.write_json(
        os.path.join(provision_dir(root, environment), "current.json"), {"id": build_id}
    )
    print(
        f"✔ Installed {len(packages)} package{'' if len(packages) == 1 else 's'} into "
        f"the environment: {', '.join(p['name'] + ' ' + p['version'] for p in packages)}",
        flush=True,
    )
    return {"id": build_id, "packages": packages}
