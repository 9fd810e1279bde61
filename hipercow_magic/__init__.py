"""hipercow-magic: send notebook cells, functions and scripts to an HPC cluster as tasks.

The package's folders are its layers (imports point down only):
    magics/                 the notebook front end (%%hipercow, %hipercow, %hipercow_info)
    cli/  widgets/  server/ the command line (and the argument layer the magics share), the
                            live displays, the Jupyter server extension for the side panel
    api/                    the public functions and handles (Task, Bundle)
    engine/                 operations over task records and drivers; returns data
    drivers/                the driver protocol, the registry, local/ and slurm/
    node/                   what runs on a compute node: runner, environments, cores, pool()
    core/                   records and values: errors, store, root, tasks, resources, capture

The public names are loaded on first use (PEP 562), so a task's process, which imports this
package to run the task, loads neither the api nor the drivers unless the task asks for them.
"""

from importlib import import_module as _import_module

from hipercow_magic._version import __version__ as __version__

_API = "hipercow_magic.api"
_NODE_NAMES = {  # what runs inside a task: cheap to load there, without the api
    "hipercow_parallel_get_cores": "hipercow_magic.node.cores",
    "hipercow_parallel_set_cores": "hipercow_magic.node.cores",
    "pool": "hipercow_magic.node.pool",
    "executor": "hipercow_magic.node.pool",
}
_OWN_NAMES = ["load_ipython_extension", "unload_ipython_extension", "__version__"]


def _all_names() -> list[str]:
    """Every public name: the api's `__all__`, then the node's, then this module's own."""
    return [*_import_module(_API).__all__, *_NODE_NAMES, *_OWN_NAMES]


def _is_submodule(name: str) -> bool:
    """Whether `name` is a module of this package (the import system loads those)."""
    from importlib.util import find_spec  # only when a name is first looked up

    return find_spec(f"{__name__}.{name}") is not None


def __getattr__(name: str):
    """A public name, loaded from its module on first use (then kept here)."""
    if name == "__all__":
        value = _all_names()
    elif name in _NODE_NAMES:
        value = getattr(_import_module(_NODE_NAMES[name]), name)
    elif (
        not name.startswith("_")
        and not _is_submodule(name)
        and name in (api := _import_module(_API)).__all__
    ):
        value = getattr(api, name)
    else:
        raise AttributeError(f"module 'hipercow_magic' has no attribute '{name}'")
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    """The module's names with the public ones not loaded yet."""
    return sorted(set(globals()) | set(_all_names()))


def load_ipython_extension(ipython) -> None:
    """`%load_ext hipercow_magic`: register %%hipercow, %hipercow and %hipercow_info.

    Args:
        ipython: the IPython shell loading the extension.
    """
    from hipercow_magic.magics import load_ipython_extension as load  # IPython only when asked

    load(ipython)


def unload_ipython_extension(ipython) -> None:
    """`%unload_ext hipercow_magic`: unregister the magics.

    Args:
        ipython: the IPython shell unloading the extension.
    """
    from hipercow_magic.magics import unload_ipython_extension as unload

    unload(ipython)


def _jupyter_labextension_paths() -> list[dict]:
    """Where the built lab extension lies, relative to this package."""
    return [{"src": "labextension", "dest": "hipercow-magic"}]


def _jupyter_server_extension_points() -> list[dict]:
    """The Jupyter server extension: the REST endpoints the side panel polls."""
    return [{"module": "hipercow_magic.server"}]
