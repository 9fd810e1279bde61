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
"""

from hipercow_magic._version import __version__
from hipercow_magic.api import *  # noqa: F403  (the public API; its __all__ lists it)
from hipercow_magic.api import __all__ as _api_names
from hipercow_magic.node.cores import hipercow_parallel_get_cores, hipercow_parallel_set_cores
from hipercow_magic.node.pool import executor, pool

__all__ = [
    *_api_names,
    "hipercow_parallel_get_cores",
    "hipercow_parallel_set_cores",
    "pool",
    "executor",
    "load_ipython_extension",
    "unload_ipython_extension",
    "__version__",
]


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
