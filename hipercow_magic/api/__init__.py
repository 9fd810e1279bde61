"""The public API: every front end (magics, widgets, CLI, server) calls these functions, and so
can scripts. `__all__` is the whole public surface; anything else is internal.
"""

from hipercow_magic.api.bundles import (
    Bundle,
    hipercow_bundle_cancel,
    hipercow_bundle_create,
    hipercow_bundle_delete,
    hipercow_bundle_list,
    hipercow_bundle_load,
    hipercow_bundle_logs,
    hipercow_bundle_result,
    hipercow_bundle_retry,
    hipercow_bundle_status,
    hipercow_bundle_wait,
)
from hipercow_magic.api.create import (
    task_create_call,
    task_create_explicit,
    task_create_expr,
    task_create_script,
    task_submit,
    task_why,
)
from hipercow_magic.api.create_bulk import task_create_bulk_call, task_create_bulk_expr
from hipercow_magic.api.dryrun import slurm_script
from hipercow_magic.api.environments import (
    hipercow_environment_create,
    hipercow_environment_delete,
    hipercow_environment_exists,
    hipercow_environment_list,
    hipercow_environment_show,
)
from hipercow_magic.api.ids import resolve_task_id
from hipercow_magic.api.info import TaskInfo
from hipercow_magic.api.listing import hipercow_purge, task_list
from hipercow_magic.api.provision import (
    hipercow_provision,
    hipercow_provision_check,
    hipercow_provision_compare,
    hipercow_provision_list,
)
from hipercow_magic.api.remote import (
    hipercow_remote_connect,
    hipercow_remote_disconnect,
    hipercow_remote_install,
    hipercow_remote_status,
)
from hipercow_magic.api.setup import (
    hipercow_cluster_info,
    hipercow_configuration,
    hipercow_configure,
    hipercow_hello,
    hipercow_init,
    hipercow_root,
    hipercow_unconfigure,
)
from hipercow_magic.api.suggest import hipercow_resources_suggest
from hipercow_magic.api.tasks import (
    Task,
    task_cancel,
    task_exports,
    task_info,
    task_result,
    task_retry,
    task_scheduler_info,
    task_status,
    task_summaries,
    task_times,
)
from hipercow_magic.api.usage import task_usage
from hipercow_magic.api.watching import (
    task_log_read,
    task_log_show,
    task_log_value,
    task_log_watch,
    task_wait,
)
from hipercow_magic.core.envvars import hipercow_envvars
from hipercow_magic.core.errors import (
    HipercowError,
    HipercowWarning,
    TaskNotFinishedError,
    TaskWaitTimeout,
)
from hipercow_magic.core.options import options
from hipercow_magic.core.parallel import hipercow_parallel
from hipercow_magic.core.resources import hipercow_resources
from hipercow_magic.core.retry_policy import hipercow_retry_policy

__all__ = [
    # tasks: creating
    "task_create_expr",
    "task_create_explicit",
    "task_create_call",
    "task_create_script",
    "task_create_bulk_expr",
    "task_create_bulk_call",
    "task_submit",
    # tasks: looking and acting
    "Task",
    "TaskInfo",
    "task_status",
    "task_times",
    "task_summaries",
    "task_info",
    "task_scheduler_info",
    "task_result",
    "task_exports",
    "task_log_value",
    "task_log_show",
    "task_log_read",
    "task_log_watch",
    "task_wait",
    "task_why",
    "task_cancel",
    "task_retry",
    "task_list",
    "task_usage",
    "resolve_task_id",
    "hipercow_purge",
    # bundles
    "Bundle",
    "hipercow_bundle_create",
    "hipercow_bundle_load",
    "hipercow_bundle_list",
    "hipercow_bundle_delete",
    "hipercow_bundle_status",
    "hipercow_bundle_wait",
    "hipercow_bundle_result",
    "hipercow_bundle_cancel",
    "hipercow_bundle_retry",
    "hipercow_bundle_logs",
    # the root, drivers and the cluster
    "hipercow_init",
    "hipercow_root",
    "hipercow_configure",
    "hipercow_unconfigure",
    "hipercow_configuration",
    "hipercow_cluster_info",
    "hipercow_hello",
    "slurm_script",
    # a cluster reached over SSH
    "hipercow_remote_install",
    "hipercow_remote_connect",
    "hipercow_remote_disconnect",
    "hipercow_remote_status",
    # what a task asks for
    "hipercow_resources",
    "hipercow_parallel",
    "hipercow_envvars",
    "hipercow_retry_policy",
    "hipercow_resources_suggest",
    # environments and provisioning
    "hipercow_environment_create",
    "hipercow_environment_list",
    "hipercow_environment_exists",
    "hipercow_environment_show",
    "hipercow_environment_delete",
    "hipercow_provision",
    "hipercow_provision_list",
    "hipercow_provision_check",
    "hipercow_provision_compare",
    # errors and settings
    "HipercowError",
    "HipercowWarning",
    "TaskNotFinishedError",
    "TaskWaitTimeout",
    "options",
]
