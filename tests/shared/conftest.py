"""Two real Unix users sharing one group root: the users, the group, a Python they can run,
and a fresh root owned by one of them (group `hcshare`, setgid, mode 2775) for each test.

The tests run as root (they create users with useradd and act as them with runuser); each
user's action is a real process, `runuser -u USER -- sh -c 'umask 002; exec ...'`, importing
this checkout. The users and the group stay after the tests (making them is idempotent); the
users' processes working on a test's root (their local schedulers and tasks) are killed after it.
"""

from __future__ import annotations

import grp
import json
import os
import pwd
import shutil
import subprocess
import sys
import tempfile
import textwrap

import psutil
import pytest
from processes import SOURCE

GROUP = "hcshare"
USERS = ("hcalice", "hcbob")
RESULT = "@@hipercow-shared-result@@"
# Third-party modules this package imports when it runs a task (copied for a system Python
# when the users can't run the tests' own interpreter).
RUNTIME_MODULES = (
    "cloudpickle",
    "psutil",
    "setproctitle",
    "threadpoolctl",
    "cryptography",
    "cffi",
    "_cffi_backend",
    "pycparser",
    "certifi",
)
USERADD, GROUPADD, RUNUSER = "/usr/sbin/useradd", "/usr/sbin/groupadd", "/usr/sbin/runuser"


def _need_root() -> None:
    if os.geteuid() != 0:
        pytest.skip("shared-root tests create Unix users: run them as root")
    for tool in (USERADD, GROUPADD, RUNUSER):
        if not os.access(tool, os.X_OK):
            pytest.skip(f"{tool} is missing (Debian: apt-get install passwd util-linux)")


def _ensure_group_and_users() -> None:
    """The group and the users, each with a home of their own; nothing done if they exist."""
    try:
        grp.getgrnam(GROUP)
    except KeyError:
        subprocess.run([GROUPADD, GROUP], check=True)
    for name in USERS:
        try:
            pwd.getpwnam(name)
        except KeyError:
            subprocess.run(
                [USERADD, "--create-home", "--shell", "/bin/sh", "--groups", GROUP, name],
                check=True,
            )
        if GROUP not in [g.gr_name for g in grp.getgrall() if name in g.gr_mem]:
            subprocess.run(["/usr/sbin/usermod", "--append", "--groups", GROUP, name], check=True)


def _plain_run(user: str, python: str, pythonpath: str, code: str) -> subprocess.CompletedProcess:
    home = pwd.getpwnam(user).pw_dir
    return subprocess.run(
        [RUNUSER, "-u", user, "--", "env", "-i", f"HOME={home}", f"PYTHONPATH={pythonpath}",
         "PATH=/usr/local/bin:/usr/bin:/bin", python, "-c", code],
        capture_output=True,
        text=True,
        cwd="/",
    )  # fmt: skip


def _copy_module(name: str, site: str) -> None:
    import importlib.util

    spec = importlib.util.find_spec(name)
    if spec is None or spec.origin is None:
        return
    if spec.submodule_search_locations:
        folder = list(spec.submodule_search_locations)[0]
        shutil.copytree(folder, os.path.join(site, os.path.basename(folder)), dirs_exist_ok=True)
    else:
        shutil.copy2(spec.origin, site)


class Runtime:
    """The Python the users run and the PYTHONPATH that makes it import this checkout."""

    def __init__(self, python: str, pythonpath: str, note: str):
        self.python = python
        self.pythonpath = pythonpath
        self.note = note


@pytest.fixture(scope="session")
def runtime():
    """A Python both users can run that imports this checkout: the tests' own when they can
    reach it; else a system Python of the same version with the package's third-party
    modules copied to a world-readable folder (e.g. when the tests' Python lives in /root).
    """
    _need_root()
    _ensure_group_and_users()
    probe = "import hipercow_magic, cloudpickle, psutil, setproctitle; print('ok')"
    own = _plain_run(USERS[0], sys.executable, SOURCE, probe)
    if own.returncode == 0:
        yield Runtime(sys.executable, SOURCE, "the tests' own Python")
        return
    version = f"python{sys.version_info.major}.{sys.version_info.minor}"
    system = next(
        (p for p in (f"/usr/bin/{version}", f"/usr/local/bin/{version}") if os.access(p, os.X_OK)),
        None,
    )
    if system is None:
        pytest.skip(
            f"the test users can't run {sys.executable} and there is no system {version}:\n"
            + own.stderr
        )
    made = tempfile.mkdtemp(prefix="hipercow-shared-runtime-")
    os.chmod(made, 0o755)
    site = os.path.join(made, "site")
    os.makedirs(site)
    for name in RUNTIME_MODULES:
        _copy_module(name, site)
    package = SOURCE
    readable = _plain_run(
        USERS[0], system, "", f"open({os.path.join(SOURCE, 'hipercow_magic', '__init__.py')!r})"
    )
    if readable.returncode != 0:  # the checkout itself is out of their reach: copy it
        package = os.path.join(made, "source")
        shutil.copytree(
            os.path.join(SOURCE, "hipercow_magic"),
            os.path.join(package, "hipercow_magic"),
            ignore=shutil.ignore_patterns("__pycache__", "labextension"),
        )
    for folder, dirs, files in os.walk(made):
        for name in dirs:
            os.chmod(os.path.join(folder, name), 0o755)
        for name in files:
            os.chmod(os.path.join(folder, name), 0o644)
    pythonpath = os.pathsep.join([package, site])
    check = _plain_run(USERS[0], system, pythonpath, probe)
    if check.returncode != 0:
        shutil.rmtree(made, ignore_errors=True)
        pytest.skip(f"no Python the test users can run this package with:\n{check.stderr}")
    try:
        yield Runtime(system, pythonpath, f"{system} with modules copied to {site}")
    finally:
        shutil.rmtree(made, ignore_errors=True)


class User:
    """One of the test users: runs Python code as them, in a process of its own, umask 002."""

    def __init__(self, name: str, runtime: Runtime):
        self.name = name
        entry = pwd.getpwnam(name)
        self.uid = entry.pw_uid
        self.home = entry.pw_dir
        self.runtime = runtime

    def run(self, body: str, cwd: str) -> dict:
        """Run `body` as this user in `cwd` (with `import hipercow_magic as hc`, `os`, `json`).

        The body sets `result` (JSON-able) or raises. Returns {"ok": True, "value": result}, or
        {"ok": False, "type", "hipercow" (a HipercowError?), "message", "traceback"}; the
        process's output is kept under "stdout" and "stderr".
        """
        code = (
            "import json, os, traceback\n"
            "import hipercow_magic as hc\n"
            "result = None\n"
            "try:\n"
            + textwrap.indent(textwrap.dedent(body), "    ")
            + "\n    out = {'ok': True, 'value': result}\n"
            "except BaseException as e:\n"
            "    out = {'ok': False, 'type': type(e).__name__,\n"
            "           'hipercow': isinstance(e, hc.HipercowError),\n"
            "           'message': str(e), 'traceback': traceback.format_exc()}\n"
            f"print({RESULT!r} + json.dumps(out, default=str))\n"
        )
        env = [
            f"HOME={self.home}",
            f"USER={self.name}",
            f"LOGNAME={self.name}",
            "PATH=/usr/local/bin:/usr/bin:/bin",
            "LANG=C.UTF-8",
            f"PYTHONPATH={self.runtime.pythonpath}",
            "PYTHONDONTWRITEBYTECODE=1",
        ]
        proc = subprocess.run(
            [RUNUSER, "-u", self.name, "--", "sh", "-c", 'umask 002; exec "$@"', "sh",
             "env", "-i", *env, self.runtime.python, "-c", code],
            capture_output=True,
            text=True,
            cwd=cwd,
            timeout=240,
        )  # fmt: skip
        head, _, tail = proc.stdout.rpartition(RESULT)
        if not _:
            raise AssertionError(
                f"{self.name}'s process ended without a result (exit {proc.returncode})\n"
                f"stdout:\n{proc.stdout}\nstderr:\n{proc.stderr}"
            )
        out = json.loads(tail)
        out.update(stdout=head, stderr=proc.stderr)
        return out

    def value(self, body: str, cwd: str):
        """The `result` of `body` run as this user; a failure fails the test with its traceback."""
        out = self.run(body, cwd)
        assert out["ok"], f"{self.name}: {out['type']}: {out['message']}\n{out['traceback']}"
        return out["value"]

    def kill_processes(self, root: str) -> None:
        """Kill this user's processes working on `root` (its scheduler and the tasks it
        started, found by command line or working folder), and their children.
        """
        found = {}
        for proc in psutil.process_iter(["uids", "cmdline", "cwd"]):
            if proc.info["uids"] is None or proc.info["uids"].real != self.uid:
                continue
            cwd = proc.info["cwd"] or ""
            if root in (proc.info["cmdline"] or []) or cwd == root or cwd.startswith(root + "/"):
                found[proc.pid] = proc
                try:
                    found.update((c.pid, c) for c in proc.children(recursive=True))
                except psutil.NoSuchProcess:
                    pass
        for proc in found.values():
            try:
                proc.kill()
            except psutil.NoSuchProcess:
                pass
        psutil.wait_procs(list(found.values()), timeout=10)


@pytest.fixture(scope="session")
def alice(runtime):
    """The user who owns the shared root's folder."""
    return User(USERS[0], runtime)


@pytest.fixture(scope="session")
def bob(runtime):
    """Another member of the root's group."""
    return User(USERS[1], runtime)


@pytest.fixture
def shared_root(alice, bob):
    """A fresh root folder owned by alice, group hcshare, setgid, mode 2775, initialised by
    alice under umask 002 on the local driver (one node with one core: tasks run in order).

    Yields the folder's path; afterwards both users' processes are killed and it is removed.
    """
    base = tempfile.mkdtemp(prefix="hipercow-shared-")
    os.chmod(base, 0o755)  # others must reach the root inside
    path = os.path.join(base, "root")
    os.mkdir(path)
    os.chown(path, alice.uid, grp.getgrnam(GROUP).gr_gid)
    os.chmod(path, 0o2775)
    alice.value(
        f"""
        hc.hipercow_init({path!r}, driver="local", idle_timeout=60,
                         nodes=[{{"name": "solo", "cores": 1, "memory": 2}}])
        """,
        cwd=path,
    )
    try:
        yield path
    finally:
        for user in (alice, bob):
            user.kill_processes(path)
        shutil.rmtree(base, ignore_errors=True)
