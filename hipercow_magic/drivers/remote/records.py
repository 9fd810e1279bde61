"""The root's records that are kept alike on both sides of a remote root: environments and
provisioning (what was asked for is written here, what an installation did is written
there). The agent reads them on every status lookup, so this imports the standard library only.
"""

from __future__ import annotations

import hashlib
import os

RECORD_FOLDERS = ("hipercow/environments", "hipercow/provision")  # kept alike on both sides


def record_digests(root_path: str) -> dict[str, str]:
    """The root's records kept alike on both sides (JSON files of RECORD_FOLDERS, outside
    virtual environments): SHA-256 by path relative to the root.
    """
    out = {}
    for top in RECORD_FOLDERS:
        for folder, dirs, files in os.walk(os.path.join(root_path, top)):
            dirs[:] = [d for d in dirs if d != "venv" and not d.startswith(".")]
            for name in files:
                if name.endswith(".json") and not name.startswith("."):
                    path = os.path.join(folder, name)
                    try:
                        with open(path, "rb") as f:
                            out[os.path.relpath(path, root_path)] = hashlib.sha256(
                                f.read()
                            ).hexdigest()
                    except OSError:
                        continue
    return out
