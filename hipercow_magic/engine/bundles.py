"""Bundles: named groups of tasks (made by the bulk functions or by hand)."""

from __future__ import annotations

import os
import re
import secrets

from hipercow_magic.core import store
from hipercow_magic.core.errors import HipercowError

_NAME_RE = re.compile(r"^[A-Za-z0-9_.-]+$")
REDUCE_ORDER = {
    "status": ("created", "failure", "cancelled", "running", "submitted", "success"),
    "wait-fail-early": ("created", "failure", "cancelled", "running", "submitted", "success"),
    "wait-fail-late": ("created", "running", "submitted", "failure", "cancelled", "success"),
}


def status_reduce(statuses: list[str], flavour: str = "status") -> str:
    """One status for many: the first present in hipercow's priority order."""
    present = set(statuses)
    for status in REDUCE_ORDER[flavour]:
        if status in present:
            return status
    raise HipercowError("Can't reduce an empty list of statuses")


def check_bundle_name(name: str) -> str:
    """The name if it is a valid bundle name (letters, digits, '_', '-' and '.')."""
    if not isinstance(name, str) or not _NAME_RE.match(name) or name.startswith("."):
        raise HipercowError(f"Invalid bundle name '{name}': use letters, digits, '_', '-' and '.'")
    return name


def bundle_save(root, name: str, ids: list[str]) -> None:
    """Write (or overwrite) the bundle `name` holding `ids`, one id a line."""
    store.write_text(
        os.path.join(root.bundles, check_bundle_name(name)), "".join(i + "\n" for i in ids)
    )


def bundle_load_ids(root, name: str) -> list[str]:
    """The ids in bundle `name`; an error if there is no such bundle."""
    text = store.read_text_or(os.path.join(root.bundles, check_bundle_name(name)))
    if text is None:
        raise HipercowError(f"No such bundle '{name}'")
    return text.split()


def bundle_list(root) -> list[str]:
    """The root's bundle names, newest first; one deleted while listing is left out."""
    try:
        entries = [e for e in os.scandir(root.bundles) if not e.name.startswith(".")]
    except FileNotFoundError:
        return []
    found = []
    for entry in entries:
        try:
            found.append((entry.stat().st_mtime, entry.name))
        except FileNotFoundError:  # deleted meanwhile (a purge, hipercow_bundle_delete)
            continue
    return [name for _, name in sorted(found, key=lambda f: f[0], reverse=True)]


def random_bundle_name() -> str:
    """A readable random name, e.g. 'brisk_otter_3f2a'."""
    adjectives = (
        "amber",
        "brisk",
        "calm",
        "dapper",
        "eager",
        "fuzzy",
        "gentle",
        "hardy",
        "jolly",
        "keen",
        "lucky",
        "merry",
        "nimble",
        "plucky",
        "quiet",
        "rapid",
        "sunny",
        "tidy",
        "vivid",
        "witty",
        "zesty",
    )
    animals = (
        "aardvark",
        "badger",
        "camel",
        "dingo",
        "egret",
        "ferret",
        "gecko",
        "heron",
        "ibis",
        "jackal",
        "koala",
        "lemur",
        "marmot",
        "newt",
        "otter",
        "puffin",
        "quokka",
        "robin",
        "stoat",
        "tapir",
        "vole",
        "wombat",
        "yak",
        "zebu",
    )
    return f"{secrets.choice(adjectives)}_{secrets.choice(animals)}_{secrets.token_hex(2)}"


def bundle_exists(root, name: str) -> bool:
    """Whether the root has a bundle called `name`."""
    return os.path.exists(os.path.join(root.bundles, check_bundle_name(name)))


def bundle_delete(root, name: str) -> None:
    """Delete a bundle (not its tasks)."""
    try:
        os.unlink(os.path.join(root.bundles, check_bundle_name(name)))
    except FileNotFoundError:
        raise HipercowError(f"No such bundle '{name}'") from None
