"""Jupyter server extension: the REST endpoints the JupyterLab panel asks, and the long poll
that tells it at once when a task starts or ends.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from traitlets import Float, Int, List, Unicode
from traitlets.config import Configurable


class HipercowServer(Configurable):
    """Settings of the hipercow server extension (`c.HipercowServer.<name>` in jupyter config)."""

    roots = List(
        Unicode(),
        help="Folders (relative to the server's root folder, or absolute inside it) whose "
        "hipercow roots are served; empty serves the whole root folder.",
    ).tag(config=True)

    discovery_depth = Int(
        3, help="How many folder levels below a served folder to look for hipercow roots."
    ).tag(config=True)

    workers = Int(4, help="Threads that run task look-ups off the event loop.").tag(config=True)

    changes_poll = Float(
        2.0,
        help="Seconds between looks at a root's tasks for the panel's long poll when no event "
        "came, while some are unfinished (five times that once all have finished): how often "
        "a root whose driver can't tell of starts and ends (Slurm) is asked, and the longest "
        "a lost event delays the panel.",
    ).tag(config=True)


def _jupyter_server_extension_points():
    return [{"module": "hipercow_magic.server"}]


def _jupyter_labextension_paths():
    """Where the built lab extension lies, relative to the `hipercow_magic` package."""
    return [{"src": "labextension", "dest": "hipercow-magic"}]


def _load_jupyter_server_extension(serverapp):
    """Register the `/hipercow/` handlers on a running Jupyter server."""
    from hipercow_magic.server.handlers import handlers
    from hipercow_magic.server.roots import ServedRoots
    from hipercow_magic.server.table import TaskTable

    settings = HipercowServer(config=serverapp.config)
    served = ServedRoots(serverapp.root_dir, settings.roots, settings.discovery_depth)
    executor = ThreadPoolExecutor(settings.workers, thread_name_prefix="hipercow")
    web_app = serverapp.web_app
    web_app.add_handlers(
        ".*$",
        handlers(
            web_app.settings["base_url"], served, TaskTable(), executor, settings.changes_poll
        ),
    )
    serverapp.log.info("hipercow: serving task roots under %s", ", ".join(served.bases))
