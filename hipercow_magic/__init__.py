"""hipercow-magic: send notebook cells, functions and scripts to an HPC cluster as tasks."""

__version__ = "0.1.0"

from .api import *  # noqa: E402,F401,F403
from .api import Task  # noqa: E402,F401
from .bundle import (Bundle, hipercow_bundle_cancel, hipercow_bundle_create,  # noqa: E402,F401
                     hipercow_bundle_delete, hipercow_bundle_list, hipercow_bundle_load,
                     hipercow_bundle_logs, hipercow_bundle_result, hipercow_bundle_retry,
                     hipercow_bundle_status, hipercow_bundle_wait)
from .environment import hipercow_environment_list  # noqa: E402,F401
from .errors import HipercowError  # noqa: E402,F401
from .options import options  # noqa: E402,F401
from .parallel import hipercow_parallel_get_cores, hipercow_parallel_set_cores  # noqa: E402,F401
from .pool import executor, pool  # noqa: E402,F401
from .environment import (hipercow_environment_create, hipercow_environment_delete,  # noqa: E402,F401
                          hipercow_environment_exists, hipercow_environment_show)
from .provision import (hipercow_provision, hipercow_provision_check,  # noqa: E402,F401
                        hipercow_provision_compare, hipercow_provision_list)


def load_ipython_extension(ipython):
    """`%load_ext hipercow_magic`: register %%hipercow, %hipercow and %hipercow_info."""
    from .magics import load_ipython_extension as load

    load(ipython)


def unload_ipython_extension(ipython):
    from .magics import unload_ipython_extension as unload

    unload(ipython)
from .server import _jupyter_labextension_paths, _jupyter_server_extension_points  # noqa: E402,F401
