"""A real Jupyter server (or JupyterLab) in a subprocess, with a token, in a temporary HOME."""

from __future__ import annotations

import json
import os
import secrets
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request

from hipercow_magic.core import signing
from hipercow_magic.core.envvars import key_path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class JupyterProcess:
    """`jupyter lab` (app="jupyterlab") or `jupyter server` serving `root_dir` on 127.0.0.1."""

    def __init__(self, root_dir, home, app: str = "jupyter_server", settings: dict | None = None):
        self.root_dir = str(root_dir)
        self.home = str(home)
        os.makedirs(self.home, exist_ok=True)
        self.app = app
        self.port = free_port()
        self.token = secrets.token_hex(16)
        self.base = f"http://127.0.0.1:{self.port}"
        self.log_path = os.path.join(self.home, f"{app}.log")
        self._write_settings(settings or {})
        self.proc = None

    def _write_settings(self, settings: dict) -> None:
        """User settings of JupyterLab: {"plugin-id": {...}} under the temporary HOME."""
        user_settings = os.path.join(self.home, ".jupyter", "lab", "user-settings")
        for plugin, values in settings.items():
            package, name = plugin.split(":")
            folder = os.path.join(user_settings, package)
            os.makedirs(folder, exist_ok=True)
            with open(os.path.join(folder, f"{name}.jupyterlab-settings"), "w") as f:
                json.dump(values, f)

    def env(self) -> dict:
        env = dict(os.environ)
        # The server runs as this user: with this user's keys, though its HOME is temporary.
        signing.signing_key(create=True)
        env.update(
            HIPERCOW_KEY_FILE=key_path(),
            HIPERCOW_SIGNING_KEY_FILE=signing.signing_key_path(),
            HOME=self.home,
            JUPYTER_CONFIG_DIR=os.path.join(self.home, ".jupyter"),
            JUPYTER_RUNTIME_DIR=os.path.join(self.home, ".jupyter", "runtime"),
            JUPYTERLAB_SETTINGS_DIR=os.path.join(self.home, ".jupyter", "lab", "user-settings"),
            JUPYTERLAB_WORKSPACES_DIR=os.path.join(self.home, ".jupyter", "lab", "workspaces"),
            PYTHONUNBUFFERED="1",
        )
        env.pop("JUPYTER_TOKEN", None)
        return env

    def start(self, timeout: float = 90) -> JupyterProcess:
        cmd = [
            sys.executable,
            "-m",
            self.app,
            "--no-browser",
            "--ip=127.0.0.1",
            f"--port={self.port}",
            f"--IdentityProvider.token={self.token}",
            "--allow-root",
            "--ServerApp.port_retries=0",
            f"--ServerApp.root_dir={self.root_dir}",
        ]
        with open(self.log_path, "wb") as log:
            self.proc = subprocess.Popen(
                cmd,
                env=self.env(),
                cwd=self.root_dir,
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.app} exited early:\n{self.log()}")
            try:
                if self.request("GET", "/api/status")[0] == 200:
                    return self
            except OSError:
                pass
            time.sleep(0.25)
        self.stop()
        raise RuntimeError(f"{self.app} did not answer within {timeout}s:\n{self.log()}")

    def log(self) -> str:
        with open(self.log_path, encoding="utf-8", errors="replace") as f:
            return f.read()[-5000:]

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(15)

    def url(self, endpoint: str, **query) -> str:
        query = {k: v for k, v in query.items() if v is not None}
        return self.base + endpoint + ("?" + urllib.parse.urlencode(query) if query else "")

    def request(
        self, method: str, endpoint: str, token: bool = True, body: bytes | None = None, **query
    ) -> tuple[int, object]:
        """(HTTP status, decoded JSON or text) of one request."""
        req = urllib.request.Request(self.url(endpoint, **query), method=method, data=body)
        if token:
            req.add_header("Authorization", f"token {self.token}")
        try:
            with urllib.request.urlopen(req, timeout=60) as r:
                status, raw = r.status, r.read()
        except urllib.error.HTTPError as e:
            status, raw = e.code, e.read()
        try:
            return status, json.loads(raw)
        except ValueError:
            return status, raw.decode(errors="replace")
