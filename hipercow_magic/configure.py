"""Configuring drivers for a root, and choosing which driver a task goes to."""

from __future__ import annotations

import os

from . import store
from .drivers.base import Driver, available_drivers, driver_class, resolve_alias
from .errors import HipercowError

_loaded: dict[tuple[str, str], tuple[dict, Driver]] = {}


def configure_driver(root, name: str, **options) -> str:
    """Save `name`'s configuration; returns hipercow's message for what happened."""
    name, options = resolve_alias(name, options)
    cls = driver_class(name)
    config = cls.configure(root, **options)
    path = root.config_path(name)
    previous = store.read_json_or(path)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    store.write_json(path, config)
    _loaded.pop((root.path, name), None)
    if previous is None:
        return f"Configured hipercow to use '{name}'"
    if previous == config:
        return f"Configuration for '{name}' unchanged"
    return f"Updated configuration for '{name}'"


def unconfigure_driver(root, name: str) -> str:
    name, _ = resolve_alias(name, {})
    path = root.config_path(name)
    _loaded.pop((root.path, name), None)
    try:
        os.unlink(path)
    except FileNotFoundError:
        return f"Did not remove configuration for '{name}' as it was not enabled"
    return f"Removed configuration for '{name}'"


def load_driver(root, name: str) -> Driver:
    """The driver object for `name` in this root (cached while its configuration is unchanged)."""
    config = root.driver_config(name)
    if config is None:
        raise HipercowError(
            f"The driver '{name}' is not configured for this root\n"
            f"Configure it with hipercow_configure('{name}')."
        )
    key = (root.path, name)
    cached = _loaded.get(key)
    if cached is not None and cached[0] == config:
        return cached[1]
    driver = driver_class(name)(root, config)
    _loaded[key] = (config, driver)
    return driver


def select_driver(root, driver=None) -> str | None:
    """hipercow's rules: None = the one configured (or none); False = never; True = required."""
    if driver is False:
        return None
    configured = root.configured_drivers()
    if isinstance(driver, str):
        name, _ = resolve_alias(driver, {})
        if name not in configured:
            if name not in available_drivers():
                driver_class(name)  # raises "Invalid driver"
            raise HipercowError(
                f"Invalid value for 'driver': '{driver}' is not configured\n"
                f"Valid options are: {', '.join(repr(c) for c in configured) or '(none)'}\n"
                f"Configure it with hipercow_configure('{name}')."
            )
        return name
    if not configured:
        if driver is True:
            raise HipercowError(
                "No hipercow driver configured\n"
                "Please run 'hipercow_configure()' to configure a driver"
            )
        return None
    if len(configured) == 1:
        return configured[0]
    raise HipercowError(
        "'driver' not specified but multiple drivers are configured\n"
        "Please provide the argument 'driver'\n"
        f"Valid options are: {' and '.join(repr(c) for c in configured)}\n"
        "If you have configured a driver you no longer want, you can remove it using "
        "'hipercow_unconfigure()', after which the default behaviour will improve"
    )


def require_driver(root, driver=None) -> str:
    if driver is False:
        raise HipercowError("Invalid choice 'driver = False'; a driver is required here")
    return select_driver(root, True if driver is None else driver)
