"""Versions a task records at creation and a node compares before running it, and the
environment a child process needs to import this package.
"""

from __future__ import annotations

import os
import sys

import cloudpickle

from hipercow_magic._version import __version__

PACKAGE_PARENT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def python_version() -> str:
    """This interpreter's 'major.minor' version, as tasks record it."""
    return f"{sys.version_info.major}.{sys.version_info.minor}"


def creation_versions() -> dict:
    """The versions recorded in a task's data.json: Python, cloudpickle and hipercow-magic."""
    return {
        "python_version": python_version(),
        "cloudpickle_version": cloudpickle.__version__,
        "hipercow_version": __version__,
    }


def child_environment(base: dict | None = None) -> dict:
    """Environment variables for a child Python process that must import this very package."""
    env = dict(os.environ if base is None else base)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [PACKAGE_PARENT, env.get("PYTHONPATH")]))
    return env
