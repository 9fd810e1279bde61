"""Signing the pickles a root holds (a task's inputs and its result), so nothing is
unpickled unless this user's hipercow-magic wrote it.

A signed file is `MAGIC`, then an HMAC-SHA256 of the file's name, the task's id and the
payload, then the payload. The key is per user, kept (0600) in the user's config folder
beside the key that encrypts secret environment variables; nodes see the same home.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import secrets
import threading

from hipercow_magic.core.envvars import key_path
from hipercow_magic.core.errors import HipercowError

MAGIC = b"HCSIG1\n"
_DIGEST = hashlib.sha256().digest_size
_keys: dict[str, bytes] = {}
_lock = threading.Lock()


def signing_key_path() -> str:
    """Where the signing key lives: HIPERCOW_SIGNING_KEY_FILE, else beside the secrets' key
    (`signing.key` in ~/.config/hipercow-magic, or `<HIPERCOW_KEY_FILE>.signing`).
    """
    explicit = os.environ.get("HIPERCOW_SIGNING_KEY_FILE")
    if explicit:
        return explicit
    if os.environ.get("HIPERCOW_KEY_FILE"):
        return key_path() + ".signing"
    return os.path.join(os.path.dirname(key_path()), "signing.key")


def _read_key(path: str) -> bytes | None:
    try:
        with open(path, "rb") as f:
            key = f.read().strip()
    except FileNotFoundError:
        return None
    except PermissionError:
        raise HipercowError(f"Can't read the signing key at '{path}' (permission denied)") from None
    return bytes.fromhex(key.decode()) if key else None


def signing_key(create: bool) -> bytes | None:
    """This user's signing key; made (0600, whole or not at all) when `create` and missing."""
    path = signing_key_path()
    with _lock:
        if path in _keys:
            return _keys[path]
        key = _read_key(path)
        if key is None and create:
            folder = os.path.dirname(path) or "."
            os.makedirs(folder, mode=0o700, exist_ok=True)
            tmp = os.path.join(folder, f".signing-{secrets.token_hex(8)}")
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            try:
                with os.fdopen(fd, "w") as f:
                    f.write(secrets.token_hex(32))
                try:
                    os.link(tmp, path)
                except FileExistsError:
                    pass  # another process made it first: use theirs
            finally:
                os.unlink(tmp)
            key = _read_key(path)
        if key is not None:
            _keys[path] = key
        return key


def _mac(key: bytes, name: str, task_id: str, payload: bytes) -> bytes:
    h = hmac.new(key, f"{name}\0{task_id}\0".encode(), hashlib.sha256)
    h.update(payload)
    return h.digest()


def sign(payload: bytes, name: str, task_id: str) -> bytes:
    """The signed form of `payload`, the file `name` of task `task_id`."""
    key = signing_key(create=True)
    return MAGIC + _mac(key, name, task_id, payload) + payload


def verify(blob: bytes, name: str, task_id: str, path: str) -> bytes:
    """The payload of a signed file, if its signature verifies with this user's key.

    Raises:
        HipercowError: the file is unsigned, was changed, or was signed by another key; it is
            not unpickled.
    """
    if not blob.startswith(MAGIC) or len(blob) < len(MAGIC) + _DIGEST:
        raise HipercowError(
            f"Refusing to load '{path}': it is not signed (made by a hipercow-magic from "
            "before signing, or not by hipercow-magic at all), so it is not unpickled.\n"
            "Create the task again."
        )
    mac, payload = blob[len(MAGIC) : len(MAGIC) + _DIGEST], blob[len(MAGIC) + _DIGEST :]
    key = signing_key(create=False)
    if key is None or not hmac.compare_digest(mac, _mac(key, name, task_id, payload)):
        where = signing_key_path()
        raise HipercowError(
            f"Refusing to load '{path}': its signature does not verify, so it was not written "
            "by this user's hipercow-magic (or it was changed since), and it is not unpickled."
            f"\nIf you trust the root, create the task again; the signing key is '{where}' "
            "(the node must see the same one)."
        )
    return payload


def _record_payload(data: dict) -> bytes:
    return json.dumps(
        {k: v for k, v in data.items() if k != "signature"}, sort_keys=True, default=str
    ).encode()


def sign_record(data: dict, task_id: str) -> dict:
    """A task's data.json record with its signature (an HMAC with this user's key) added."""
    key = signing_key(create=True)
    return {**data, "signature": _mac(key, "data.json", task_id, _record_payload(data)).hex()}


def verify_record(data: dict, task_id: str, path: str) -> None:
    """Check a task's data.json record was written by this user's hipercow-magic, unchanged.

    Raises:
        HipercowError: the record is unsigned, was changed, or was signed by another key (the
            task is then not run).
    """
    key = signing_key(create=False)
    given = data.get("signature")
    if (
        not isinstance(given, str)
        or key is None
        or not hmac.compare_digest(
            given, _mac(key, "data.json", task_id, _record_payload(data)).hex()
        )
    ):
        raise HipercowError(
            f"Refusing to run the task described by '{path}': its signature does not verify, "
            "so it was not written by this user's hipercow-magic (or it was changed since).\n"
            "If you trust the root, create the task again."
        )
