"""What every command's arguments use: registering a command, and KEY=VALUE options."""

from __future__ import annotations

import argparse
import json

from hipercow_magic.core.errors import HipercowError


def command(subparsers, name: str, help: str) -> argparse.ArgumentParser:
    """Register a command whose help (its line in the list of commands) is its description,
    with its own `-h` (which IPython's `MagicArgumentParser` leaves out by default).
    """
    return subparsers.add_parser(name, help=help, description=help, add_help=True)


def parse_pairs(pairs: list[str] | None) -> dict:
    """KEY=VALUE strings as a dict of options.

    Args:
        pairs: strings like `idle_timeout=60` or `cluster=example`.

    Returns:
        The options; a value is parsed as JSON when it parses (numbers, lists, `true`), else
        kept as a string; `-` in a key becomes `_`.
    """
    out = {}
    for pair in pairs or []:
        if "=" not in pair:
            raise HipercowError(f"Invalid option '{pair}': expected KEY=VALUE")
        key, value = pair.split("=", 1)
        try:
            out[key.replace("-", "_")] = json.loads(value)
        except ValueError:
            out[key.replace("-", "_")] = value
    return out
