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

import hashlib
import json
import os
import shutil
import time

from hipercow_magic.core import store
from hipercow_magic.core.environment import check_name
from hipercow_magic.core.errors import HipercowError
from hipercow_magic.core.format import time_ago
from hipercow_magic.core.status import ACTIVE
from hipercow_magic.core.task import marker_status

METHODS = ("pip", "script")


# ---- where things live -----------------------------------------------------------------
def provision_dir(root, environment: str) -> str:
    """The folder holding an environment's installations, one folder each."""
    return os.path.join(root.hipercow, "provision", check_name(environment))


def build_dir(root, environment: str, build_id: str) -> str:
    """The folder of one installation: its record and its virtual environment."""
    return os.path.join(provision_dir(root, environment), build_id)


def read_record(root, environment: str, build_id: str) -> dict | None:
    """An installation's record, or None if there is none (yet); its task id comes from the
    installation's own `task` file (written once by the front end, so the node's writes of
    the record never lose it).
    """
    folder = build_dir(root, environment, build_id)
    record = store.read_json_or(os.path.join(folder, "record.json"))
    if record is not None:
        task = store.read_text_or(os.path.join(folder, "task"))
        if task:
            record["task"] = task.strip()
    return record


def write_record_task(root, environment: str, build_id: str, task_id: str) -> None:
    """Record which task runs an installation (in a file of its own)."""
    store.write_text(os.path.join(build_dir(root, environment, build_id), "task"), task_id)


def write_record(root, record: dict) -> None:
    """Write an installation's record (atomically) into its folder."""
    store.write_json(
        os.path.join(build_dir(root, record["environment"], record["id"]), "record.json"), record
    )


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
    if record["status"] not in ACTIVE or not record.get("task"):
        return record
    status = marker_status(root, record["task"])
    if status in ("failure", "cancelled"):
        shutil.rmtree(
            os.path.join(build_dir(root, record["environment"], record["id"]), "venv"),
            ignore_errors=True,
        )
        record = {
            **record,
            "status": status,
            "finished": time.time(),
            "error": f"the installation task ended with status '{status}'",
        }
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
    (the root's shared installation), else None.
    """
    record = own_record(root, environment)
    if record is None and environment != "default":
        record = own_record(root, "default")
    return record


def new_build_id(root, environment: str) -> str:
    """A new installation id (the time, made unique), its folder created."""
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
    rel = root.relative(path)
    if rel is None:
        raise HipercowError(
            f"The {what} '{path}' is not inside the hipercow root "
            f"'{root.path}'\nMove it into the root, where the cluster sees it."
        )
    if not os.path.isfile(os.path.join(root.path, rel)):
        raise HipercowError(f"The {what} '{path}' was not found\nLooking relative to '{root.path}'")
    return rel


def resolve_request(root, method: str | None, options: dict) -> dict:
    """What an installation would do, from the method, its options and the root's files."""
    options = dict(options)
    if method is None:
        if "requirements" in options or "file" in options:
            method = "pip"
        elif "script" in options or os.path.isfile(os.path.join(root.path, "provision.sh")):
            method = "script"
        elif any(
            os.path.isfile(os.path.join(root.path, f))
            for f in ("requirements.txt", "pyproject.toml")
        ):
            method = "pip"
        else:
            raise HipercowError(
                "Don't know what to provision: the root has no provision.sh, requirements.txt "
                "or pyproject.toml\nWrite one of those, or pass requirements=[...] "
                "(e.g. hipercow_provision(requirements=['numpy']))."
            )
    if method not in METHODS:
        raise HipercowError(
            f"Unknown provisioning method '{method}'\n"
            "Valid methods are 'pip' and 'script' (or None to choose from the "
            "root's files)"
        )
    allowed = {"pip": ("requirements", "file"), "script": ("script",)}[method]
    unknown = sorted(set(options) - set(allowed))
    if unknown:
        raise HipercowError(
            f"Unknown option{'s' if len(unknown) > 1 else ''} for method '{method}': "
            f"{', '.join(unknown)}\nValid options are: {', '.join(allowed)}"
        )
    if method == "script":
        script = _root_file(root, options.get("script", "provision.sh"), "script")
        with open(os.path.join(root.path, script), encoding="utf-8", errors="replace") as f:
            request = {"method": "script", "script": script, "text": f.read()}
    elif options.get("requirements") is not None:
        requirements = options["requirements"]
        requirements = [requirements] if isinstance(requirements, str) else requirements
        if (
            not isinstance(requirements, (list, tuple))
            or not requirements
            or not all(isinstance(r, str) and r.strip() for r in requirements)
        ):
            raise HipercowError(
                "'requirements' must be a non-empty list of requirement "
                "strings, like ['numpy>=1.26', 'cowsay']"
            )
        request = {"method": "pip", "file": None, "requirements": [r.strip() for r in requirements]}
    else:
        name = options.get("file") or (
            "requirements.txt"
            if os.path.isfile(os.path.join(root.path, "requirements.txt"))
            else "pyproject.toml"
        )
        rel = _root_file(root, name, "requirements file")
        full = os.path.join(root.path, rel)
        if rel.endswith(".toml"):
            request = {
                "method": "pip",
                "file": rel,
                "requirements": _read_pyproject_dependencies(full),
            }
        else:
            with open(full, encoding="utf-8") as f:
                text = f.read()
            lines = [
                ln.strip()
                for ln in text.splitlines()
                if ln.strip() and not ln.strip().startswith("#")
            ]
            if not lines:
                raise HipercowError(f"'{rel}' lists no requirements")
            request = {"method": "pip", "file": rel, "requirements": lines}
    request["hash"] = hashlib.sha256(json.dumps(request, sort_keys=True).encode()).hexdigest()
    return request


def describe_request(request: dict) -> str:
    """A request in one line, e.g. 'pip numpy pandas (from requirements.txt)'."""
    if request["method"] == "script":
        return f"script {request['script']}"
    where = f" (from {request['file']})" if request.get("file") else ""
    return f"pip {' '.join(request['requirements'])}{where}"


def provision_summary(root, environment: str) -> str:
    """One line on what is provisioned for an environment (for environment_show)."""
    record = current_record(root, environment)
    if record is None:
        return "(nothing; hipercow_provision() installs packages)"
    n = len(record.get("packages") or [])
    shared = "" if record["environment"] == environment else "'default' installation "
    return (
        f"{shared}{record['id']} ({time_ago(record['created'])}; {n} package"
        f"{'' if n == 1 else 's'}: {describe_request(record['request'])})"
    )
