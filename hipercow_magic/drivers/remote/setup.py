"""Setting up a remote root: checking the remote side at configure (reachable, a Python with
this hipercow-magic and cloudpickle, a root it can write), installing the user's keys there,
and installing this version into a venv inside the remote root (`hipercow remote install`).
"""

from __future__ import annotations

import io
import os
import platform
import shlex
import tarfile
from importlib import metadata

from hipercow_magic._version import __version__
from hipercow_magic.core.errors import HipercowError
from hipercow_magic.drivers.remote.driver import (
    call,
    connection,
    remote_folder,
    save_cluster,
    shell_path,
)
from hipercow_magic.drivers.remote.ssh import RemoteCommandFailed, SshConnection

VENV = "hipercow/remote/venv"  # inside the remote root
REMOTE_OPTIONS = ("ssh", "remote_root", "remote_python", "ssh_config")


def remote_config(root, name: str) -> dict | None:
    """The "remote" part of driver `name`'s configuration; None when it is not remote."""
    config = root.driver_config(name)
    return config.get("remote") if config else None


def _fix(remote: dict, python: str | None) -> str:
    where = f"--ssh {shlex.quote(remote['ssh'])} --remote-root {shlex.quote(remote['remote_root'])}"
    with_python = f" --remote-python {shlex.quote(python)}" if python else ""
    return (
        "Install this version into a venv inside the remote root with:\n"
        f"  hipercow remote install {where}{with_python}\n"
        "then configure again (the venv is found by itself)."
    )


def _hello(conn: SshConnection, remote: dict) -> dict:
    """The remote side's versions, from the given Python, else the root's venv, else python3."""
    given = remote.get("remote_python")
    venv = f"{shell_path(remote['remote_root'])}/{VENV}/bin/python"
    python = shlex.quote(given) if given else f'"$(test -x {venv} && echo {venv} || echo python3)"'
    try:
        reply, _ = call(conn, remote, {"op": "hello"}, python=python)
    except RemoteCommandFailed as e:
        words = (e.stderr or "").strip().splitlines()
        said = words[-1] if words else f"exit code {e.returncode}"
        which = given or "python3 (or a venv in the remote root)"
        raise HipercowError(
            f"The remote side can't run hipercow-magic with {which} on {remote['ssh']}: "
            f"{said}\n{_fix(remote, given)}"
        ) from None
    return reply


def check_versions(hello: dict, remote: dict) -> None:
    """Raise a HipercowError saying what differs between this side and the remote one."""
    import cloudpickle

    here = {
        "Python": ".".join(platform.python_version().split(".")[:2]),
        "hipercow-magic": __version__,
        "cloudpickle": ".".join(cloudpickle.__version__.split(".")[:2]),
    }
    there = {
        "Python": ".".join(hello["python"].split(".")[:2]),
        "hipercow-magic": hello["hipercow_magic"],
        "cloudpickle": ".".join((hello["cloudpickle"] or "none").split(".")[:2]),
    }
    differ = [f"{k} {there[k]} there, {here[k]} here" for k in here if here[k] != there[k]]
    if differ:
        raise HipercowError(
            f"The remote Python {hello['executable']} on {remote['ssh']} does not match this "
            f"one: {'; '.join(differ)}\n{_fix(remote, None)}"
        )
    if hello.get("problem"):
        raise HipercowError(
            f"Can't use '{remote['remote_root']}' on {remote['ssh']} as the remote root: "
            f"{hello['problem']}\nChoose a folder there that you can write (remote_root=)."
        )


def configure_remote(root, name: str, options: dict) -> dict:
    """Check the remote side and configure driver `name` there; the configuration to save
    here ({"remote": ..., "inner": the driver's configuration there}).

    Raises:
        HipercowError: ssh= without remote_root= (or the reverse), the cluster can't be
            reached or refuses us, its Python doesn't match, or configuring there failed.
    """
    remote = {k: options.pop(k, None) for k in REMOTE_OPTIONS}
    if not remote["ssh"] or not remote["remote_root"]:
        missing = "remote_root" if remote["ssh"] else "ssh"
        raise HipercowError(
            f"A remote root needs both ssh= (how to reach the cluster) and remote_root= (the "
            f"root's folder there); {missing}= is missing."
        )
    conn = connection(root, name, remote)
    hello = _hello(conn, remote)
    check_versions(hello, remote)
    remote["remote_python"] = hello["executable"]
    remote["remote_root"] = hello["root"]
    keys, blobs = _keys()
    reply, _ = call(
        conn, remote, {"op": "configure", "driver": name, "options": options, "keys": keys}, blobs
    )
    save_cluster(remote_folder(root, name), reply["cluster"])
    return {"remote": remote, "inner": reply["config"]}


def _keys() -> tuple[dict, list[bytes]]:
    """This user's keys (made if missing), to install on the remote side."""
    from hipercow_magic.core.envvars import ensure_key
    from hipercow_magic.core.signing import signing_key, signing_key_path

    signing_key(create=True)
    names = {"signing.key": signing_key_path(), "secret.key": ensure_key()}
    blobs = []
    for path in names.values():
        with open(path, "rb") as f:
            blobs.append(f.read())
    return {name: k for k, name in enumerate(names)}, blobs


def _package_archive() -> bytes:
    """This hipercow-magic's Python files as a gzipped tar (its lab extension left out)."""
    package = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w:gz") as tar:
        tar.add(
            package,
            arcname="hipercow_magic",
            filter=lambda t: None if "__pycache__" in t.name or "/labextension" in t.name else t,
        )
    return out.getvalue()


def _requirements() -> list[str]:
    """What hipercow-magic needs at run time, cloudpickle pinned to this side's version."""
    import cloudpickle

    needs = [r for r in metadata.requires("hipercow-magic") or [] if "extra ==" not in r]
    needs = [r for r in needs if not r.lower().startswith("cloudpickle")]
    return [*needs, f"cloudpickle=={cloudpickle.__version__}"]


def install_remote(
    ssh: str, remote_root: str, ssh_config: str | None = None, python: str | None = None
) -> str:
    """Make a venv inside `<remote_root>/hipercow/remote/venv` on the remote side (with
    `python`, default python3 there) holding this version of hipercow-magic and what it
    needs; the message to show.

    Raises:
        HipercowError: the cluster can't be reached, its Python is not this one's major.minor,
            or the installation failed there (pip's own words passed on).
    """
    conn = SshConnection(ssh, f"install\0{remote_root}", ssh_config)
    venv = f"{shell_path(remote_root)}/{VENV}"
    base = shlex.quote(python or "python3")
    want = ".".join(platform.python_version().split(".")[:2])
    requirements = " ".join(shlex.quote(r) for r in _requirements())
    script = f"""set -e
found=$({base} -c 'import sys; print("%d.%d" % sys.version_info[:2])')
if [ "$found" != {want} ]; then
  echo "{python or "python3"} there is Python $found; this side runs {want}" >&2; exit 3
fi
mkdir -p {venv}
test -x {venv}/bin/python || {base} -m venv {venv}
site=$({venv}/bin/python -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
{venv}/bin/python -m pip install -q --disable-pip-version-check {requirements} >&2
rm -rf "$site/hipercow_magic.new" && mkdir "$site/hipercow_magic.new"
tar xzf - -C "$site/hipercow_magic.new"
rm -rf "$site/hipercow_magic" && mv "$site/hipercow_magic.new/hipercow_magic" "$site/"
rmdir "$site/hipercow_magic.new"
{venv}/bin/python -c 'import sys, hipercow_magic; print(sys.executable)'
"""
    try:
        out = conn.run(f"bash -c {shlex.quote(script)}", _package_archive())
    except RemoteCommandFailed as e:
        said = "\n".join((e.stderr or "").strip().splitlines()[-5:])
        hint = (
            "\nPass --remote-python with a Python of that version there."
            if e.returncode == 3
            else ""
        )
        raise HipercowError(f"Installing on {ssh} failed: {said}{hint}") from None
    executable = out.decode().strip().splitlines()[-1]
    return (
        f"✔ Installed hipercow-magic {__version__} (Python {want}) on {ssh} at {executable}\n"
        f"ℹ Next: hipercow_init('.', driver=..., ssh={ssh!r}, remote_root={remote_root!r})"
    )


def _remote(root, name: str) -> dict:
    remote = remote_config(root, name)
    if remote is None:
        raise HipercowError(
            f"The driver '{name}' of this root is not reached over SSH\n"
            "Configure it with ssh= and remote_root= to make it so."
        )
    return remote


def connect(root, name: str) -> str:
    """Open the master connection of driver `name` of this root (prompting on the terminal,
    e.g. for MFA, where needed); the message to show.
    """
    remote = _remote(root, name)
    connection(root, name, remote).open(interactive=True)
    return f"✔ Connected to {remote['ssh']}; the connection is kept while in use"


def disconnect(root, name: str) -> str:
    """Close the master connection of driver `name` of this root; the message to show."""
    remote = _remote(root, name)
    conn = connection(root, name, remote)
    if not conn.is_open():
        return f"ℹ Not connected to {remote['ssh']}"
    conn.close()
    return f"✔ Disconnected from {remote['ssh']}"


def describe(root, name: str) -> dict:
    """Where driver `name` of this root is reached, whether its connection is open, and the
    remote side's versions (None, with the problem, when it can't be asked).
    """
    remote = _remote(root, name)
    conn = connection(root, name, remote)
    out = {**remote, "connected": conn.is_open(), "versions": None, "problem": None}
    try:
        hello = _hello(conn, remote)
        out["versions"] = {
            k: hello[k] for k in ("python", "hipercow_magic", "cloudpickle", "executable")
        }
    except HipercowError as e:
        out["problem"] = str(e)
    return out
