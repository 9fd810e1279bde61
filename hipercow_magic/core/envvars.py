"""hipercow_envvars(): environment variables for tasks, with encrypted secrets."""

from __future__ import annotations

import os
import re
import secrets
from dataclasses import dataclass

from hipercow_magic.core.errors import HipercowError

_NAME_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


@dataclass(frozen=True)
class EnvVar:
    """One environment variable for tasks; a secret's value is encrypted when stored."""

    name: str
    value: str | None  # None removes a variable set at a lower precedence
    secret: bool = False


class EnvVars:
    """An ordered set of variables; `a + b` lets `b` override `a`."""

    def __init__(self, items: list[EnvVar] | None = None):
        merged: dict[str, EnvVar] = {}
        for item in items or []:
            merged.pop(item.name, None)
            merged[item.name] = item
        self.items = list(merged.values())

    def __add__(self, other: EnvVars | None) -> EnvVars:
        return EnvVars(self.items + (other.items if other else []))

    def __len__(self) -> int:
        return len(self.items)

    def __repr__(self) -> str:
        body = ", ".join(f"{v.name}={'********' if v.secret else v.value!r}" for v in self.items)
        return f"hipercow_envvars({body})"

    def resolved(self) -> list[EnvVar]:
        """Variables that are set (removals applied)."""
        return [v for v in self.items if v.value is not None]


def hipercow_envvars(*args: str, secret: bool = False, **kwargs) -> EnvVars:
    """Environment variables for tasks, set before their code runs.

    Args:
        *args: variables as 'NAME=value' strings.
        secret: encrypt the values when they are stored with tasks (with a key kept outside
            the root; tasks decrypt them on the node); they show as ******** in displays.
        **kwargs: variables as NAME=value; a value of None removes a variable that a lower
            level (the driver's or `options.default_envvars`) would set.

    Returns:
        The variables (EnvVars); combine sets with `+`, the right one winning.

    Raises:
        HipercowError: an invalid name or value.
    """
    items: list[EnvVar] = []
    for arg in args:
        if not isinstance(arg, str) or "=" not in arg:
            raise HipercowError(
                f"Invalid environment variable {arg!r}: expected 'NAME=value' or NAME=value "
                "as a keyword argument"
            )
        name, value = arg.split("=", 1)
        kwargs = {name.strip(): value, **kwargs}
    for name, value in kwargs.items():
        if not _NAME_RE.match(name):
            raise HipercowError(
                f"Invalid environment variable name '{name}': use letters, digits and '_', "
                "not starting with a digit"
            )
        if value is not None and not isinstance(value, (str, int, float)):
            raise HipercowError(
                f"The value of environment variable '{name}' must be a string, not "
                f"{type(value).__name__}"
            )
        items.append(EnvVar(name, None if value is None else str(value), secret))
    return EnvVars(items)


DEFAULT_ENVVARS = EnvVars([EnvVar("PYTHONUNBUFFERED", "1")])


def key_path() -> str:
    """The file holding the key that encrypts secrets (HIPERCOW_KEY_FILE, or one in ~/.config)."""
    default = os.path.join(os.path.expanduser("~"), ".config", "hipercow-magic", "secret.key")
    return os.environ.get("HIPERCOW_KEY_FILE", default)


def ensure_key() -> str:
    """Make this user's secrets key if it is missing (whole or not at all); its path."""
    _fernet(create=True)
    return key_path()


def _fernet(create: bool):
    from cryptography.fernet import Fernet

    path = key_path()
    try:
        with open(path, "rb") as f:
            return Fernet(f.read().strip())
    except FileNotFoundError:
        if not create:
            raise HipercowError(
                f"Can't decrypt secret environment variables: no key at '{path}'\n"
                "The key is made when secrets are first used; the cluster must see the same "
                "home directory (or set HIPERCOW_KEY_FILE)."
            ) from None
    folder = os.path.dirname(path) or "."
    os.makedirs(folder, mode=0o700, exist_ok=True)
    tmp = os.path.join(folder, f".key-{os.getpid()}-{secrets.token_hex(4)}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(Fernet.generate_key())
        try:
            os.link(tmp, path)  # whole or not at all; a process that made it first wins
        except FileExistsError:
            pass
    finally:
        os.unlink(tmp)
    with open(path, "rb") as f:
        return Fernet(f.read().strip())


def serialise(envvars: EnvVars) -> list[dict]:
    """JSON-able form: secret values encrypted, never in plain text."""
    out = []
    fernet = None
    for v in envvars.items:
        if v.secret and v.value is not None:
            fernet = fernet or _fernet(create=True)
            out.append({"name": v.name, "encrypted": fernet.encrypt(v.value.encode()).decode()})
        else:
            out.append({"name": v.name, "value": v.value})
    return out


def deserialise(items: list[dict], decrypt: bool) -> EnvVars:
    """Back from `serialise`; secrets are decrypted only when `decrypt` (on the node)."""
    out = []
    fernet = None
    for item in items:
        if "encrypted" in item:
            value = None
            if decrypt:
                fernet = fernet or _fernet(create=False)
                value = fernet.decrypt(item["encrypted"].encode()).decode()
            out.append(EnvVar(item["name"], value if decrypt else "********", True))
        else:
            out.append(EnvVar(item["name"], item["value"]))
    return EnvVars(out)


def prepare_envvars(
    task_envvars: EnvVars | None, driver_defaults: EnvVars | None, option_defaults: EnvVars | None
) -> EnvVars:
    """Hipercow's precedence: defaults < driver's < options' < the task's own."""
    return DEFAULT_ENVVARS + driver_defaults + option_defaults + task_envvars
