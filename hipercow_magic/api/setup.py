"""The root and its drivers: init, configure, unconfigure, configuration, cluster info and a
test task (hello).
"""

from __future__ import annotations

import os
import platform

import cloudpickle

from hipercow_magic._version import __version__
from hipercow_magic.api.create import task_create_expr
from hipercow_magic.api.environments import hipercow_environment_list
from hipercow_magic.core.errors import HipercowError
from hipercow_magic.core.root import Root, find_root, init_root
from hipercow_magic.drivers.registry import (
    available_drivers,
    configure_driver,
    load_driver,
    require_driver,
    unconfigure_driver,
)
from hipercow_magic.drivers.remote import remote_config


def hipercow_init(path: str = ".", driver: str | None = None, **options_) -> Root:
    """Create a hipercow root at `path` (and configure `driver` if given).

    Args:
        path: the folder to hold the root (its `hipercow/` folder); created if needed.
        driver: a driver to configure at once, e.g. 'local' or 'slurm'.
        **options_: the driver's options, as for hipercow_configure(); with `ssh=` and
            `remote_root=`, the driver runs on a cluster reached over SSH (see
            hipercow_configure()).

    Returns:
        The root (its `.path` is the folder).

    Raises:
        HipercowError: `path` is a file, or configuring the driver failed.
    """
    root, created = init_root(path)
    shown = f"'{path}'" + ("" if os.path.isabs(path) else f" ({root.path})")
    print(
        f"✔ Initialised hipercow at {shown}"
        if created
        else f"ℹ hipercow already initialised at {shown}"
    )
    if driver is None:
        if options_:
            print("! `driver` was not specified, but extra args were detected.")
        print("ℹ Next, call 'hipercow_configure()'")
        return root
    try:
        print("✔ " + configure_driver(root, driver, **options_))
    except HipercowError as e:
        raise HipercowError(f"Configuration failed\n{e}") from None
    return root


def hipercow_configure(driver: str, root=None, **options_) -> None:
    """Configure a driver for this root on this machine (replacing its previous options).

    Args:
        driver: 'local' (tasks run on this machine), 'slurm', or 'example' (the local driver
            with hipercow's example cluster: 4 nodes of 4 cores, 3 queues).
        root: the hipercow root (default: found from the working directory).
        **options_: the driver's options (e.g. the local driver's `nodes=`, `queues=`, Slurm's
            `python=` and `preamble=`). For a cluster reached over SSH (the driver then
            runs there, and the root has a copy there that the nodes see): `ssh=` (an
            alias from `~/.ssh/config`, or `user@host`) and `remote_root=` (the copy's
            folder there, `~` being the cluster's home), with optionally `remote_python=`
            (the Python there; default: the environment `hipercow_remote_install()` made,
            else `python3`) and `ssh_config=` (an ssh configuration file instead of
            `~/.ssh/config`).

    Raises:
        HipercowError: an unknown driver or option, or (over SSH) the cluster can't be
            reached or its hipercow-magic, Python or cloudpickle differs from this
            machine's (the message says how to fix it).
    """
    print("✔ " + configure_driver(find_root(root), driver, **options_))


def hipercow_unconfigure(driver: str, root=None) -> None:
    """Remove a driver's configuration for this root on this machine (tasks are kept).

    Args:
        driver: the driver's name.
        root: the hipercow root (default: found from the working directory).
    """
    print(unconfigure_driver(find_root(root), driver))


def hipercow_configuration(show: bool = True, root=None) -> dict:
    """Paths, versions, configured drivers and environments of this root.

    Args:
        show: print them.
        root: the hipercow root (default: found from the working directory).

    Returns:
        A dict: hipercow_magic, python, cloudpickle, platform, root, working_directory,
        drivers (each configured one's options), available_drivers and environments.
    """
    root = find_root(root)
    info = {
        "hipercow_magic": __version__,
        "python": platform.python_version(),
        "cloudpickle": cloudpickle.__version__,
        "platform": platform.platform(),
        "root": root.path,
        "working_directory": os.getcwd(),
        "drivers": {name: root.driver_config(name) for name in root.configured_drivers()},
        "available_drivers": available_drivers(),
        "environments": hipercow_environment_list(root=root),
    }
    if show:
        print("── hipercow-magic configuration ──")
        for key in (
            "hipercow_magic",
            "python",
            "cloudpickle",
            "platform",
            "root",
            "working_directory",
        ):
            print(f"  • {key}: {info[key]}")
        print(f"  • environments: {', '.join(info['environments'])}")
        if not info["drivers"]:
            print("  • drivers: (none configured)")
        for name, config in info["drivers"].items():
            remote = remote_config(root, name)
            if remote is None:
                print(f"  • driver '{name}':")
            else:  # where it runs, then its own options (those it has there)
                print(f"  • driver '{name}', over SSH to {remote['ssh']}:")
                print(f"      remote root: {remote['remote_root']}")
                print(f"      remote python: {remote.get('remote_python') or 'python3'}")
                outer = {k: v for k, v in config.items() if k not in ("inner", "remote")}
                config = {**config.get("inner", {}), **outer}
            for k, v in config.items():
                print(f"      {k}: {v}")
    return info


def hipercow_cluster_info(driver: str | None = None, root=None):
    """The configured cluster's resources: nodes, cores, memory, queues.

    Args:
        driver: the driver to ask (default: the one configured).
        root: the hipercow root (default: found from the working directory).

    Returns:
        The cluster's description; `print()` it for a summary.

    Raises:
        HipercowError: no driver is configured (or several, and `driver` was not given).
    """
    root = find_root(root)
    return load_driver(root, require_driver(root, driver)).cluster_info()


def hipercow_hello(timeout: float | None = 60, driver=None, root=None):
    """Run a small test task on the cluster and report how it went.

    Args:
        timeout: seconds to wait for the task (None: no limit).
        driver: the driver to use (default: the one configured).
        root: the hipercow root (default: found from the working directory).

    Returns:
        The test task's value, 'Moo'.

    Raises:
        HipercowError: the task failed or was cancelled (the message says which, and why).
        TaskWaitTimeout: `timeout` passed before the task finished.
    """
    root = find_root(root)
    name = require_driver(root, driver)
    task = task_create_expr(
        'print("Moo")\n"Moo"', namespace={}, driver=name, root=root, name="hello"
    )
    ok = task.wait(timeout=timeout)
    if ok:
        print(f"✔ Successfully ran test task '{task.id}'")
        return task.result()
    status = task.status()
    message = f"Failed to run test task\nTask status is '{status}'"
    if status == "failure":
        message += f"\nOriginal error: {task.result()}"
    raise HipercowError(message)


def hipercow_root(path: str | None = None) -> Root:
    """The hipercow root at `path`, or the first found looking upward from the working directory.

    Args:
        path: a folder holding `hipercow/`; default: search upward from the working directory.

    Returns:
        The root (its `.path` is the folder).

    Raises:
        HipercowError: no root there (the message says how to create one).
    """
    return find_root(path)
