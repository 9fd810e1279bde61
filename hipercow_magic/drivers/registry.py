"""The driver registry (built-in drivers and the `hipercow_magic.drivers` entry points),
configuring drivers for a root, and choosing which driver a task goes to.
"""

from __future__ import annotations

import importlib
import os
from typing import Any

from hipercow_magic.core import remote_files, store
from hipercow_magic.core.errors import HipercowError
from hipercow_magic.core.retry_policy import RetryPolicy, chosen_policy, parse_retry_option
from hipercow_magic.core.task import read_marker
from hipercow_magic.drivers.base import Driver

_loaded: dict[tuple[str, str], tuple[dict, Driver]] = {}


def configure_driver(root, name: str, **options) -> str:
    """Save `name`'s configuration; returns hipercow's message for what happened."""
    name, options = resolve_alias(name, options)
    cls = driver_class(name)
    policy = configured_policy(options.pop("retry", None))
    if options.get("ssh") or options.get("remote_root"):  # the driver runs on the far side
        from hipercow_magic.drivers.remote import configure_remote

        config = configure_remote(root, name, options)
    else:
        config = cls.configure(root, **options)
    if policy is not None:
        config["retry_policy"] = policy.to_dict()
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


def configured_policy(retry) -> RetryPolicy | None:
    """The default retry policy a driver's configuration keeps (`retry=` of
    hipercow_configure: a policy, True for the default one, or `--retry`'s words such as
    'out_of_memory,timeout'); None for none.
    """
    if isinstance(retry, str):
        retry = parse_retry_option(retry)
    return chosen_policy(retry, None)


def unconfigure_driver(root, name: str) -> str:
    """Remove `name`'s configuration; returns hipercow's message for what happened."""
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
    if "remote" in config:  # reached over SSH
        from hipercow_magic.drivers.remote import RemoteDriver

        driver = RemoteDriver(root, config, name, driver_class(name))
    else:
        driver = driver_class(name)(root, config)
    _loaded[key] = (config, driver)
    return driver


def _fetch_remote_file(root, task_id: str, name: str, grow: bool) -> None:
    """Bring a file of a task submitted to a driver behind SSH here (core/remote_files.py);
    nothing for the tasks of other drivers.
    """
    if not grow and os.path.exists(root.task_file(task_id, name)):
        return
    driver_name = read_marker(root, task_id, "submitted").get("driver")
    config = root.driver_config(driver_name) if driver_name else None
    if config and "remote" in config:
        load_driver(root, driver_name).fetch(task_id, name, grow)


remote_files.register(_fetch_remote_file)


def select_driver(root, driver=None) -> str | None:
    """Hipercow's rules: None = the one configured (or none); False = never; True = required."""
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
    """As `select_driver`, but a driver must result (an error when none is configured)."""
    if driver is False:
        raise HipercowError("Invalid choice 'driver = False'; a driver is required here")
    return select_driver(root, True if driver is None else driver)


BUILTIN_DRIVERS = {
    "local": "hipercow_magic.drivers.local:LocalDriver",
    "slurm": "hipercow_magic.drivers.slurm:SlurmDriver",
}


# hipercow's seed says driver="example": the local driver with the seed's example cluster.
DRIVER_ALIASES = {"example": ("local", {"cluster": "example"})}


def driver_class(name: str):
    """The class registered for driver `name`, or a HipercowError listing valid names (the
    built-in drivers first: the entry points are read only for other names).
    """
    target = BUILTIN_DRIVERS.get(name)
    if target is None:
        from importlib.metadata import entry_points  # ~50 ms: only when needed

        for ep in entry_points(group="hipercow_magic.drivers"):
            if ep.name == name:
                return ep.load()
        valid = sorted(set(available_drivers()) | set(DRIVER_ALIASES))
        raise HipercowError(
            f"Invalid driver '{name}'\nValid choices are: {', '.join(repr(v) for v in valid)}"
        )
    module, attr = target.split(":")
    return getattr(importlib.import_module(module), attr)


def available_drivers() -> list[str]:
    """Names of every driver: the built-in ones and those registered as entry points."""
    from importlib.metadata import entry_points

    names = set(BUILTIN_DRIVERS)
    names.update(ep.name for ep in entry_points(group="hipercow_magic.drivers"))
    return sorted(names)


def resolve_alias(name: str, options: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """Map hipercow's driver names (e.g. 'example') onto ours."""
    if name in DRIVER_ALIASES:
        real, extra = DRIVER_ALIASES[name]
        return real, {**extra, **options}
    return name, options
