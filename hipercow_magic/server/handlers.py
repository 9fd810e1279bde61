"""REST handlers under `<base_url>/hipercow/`, all behind Jupyter's authentication.

Every handler names a root by `?root=PATH` (relative to the server's root folder) and works
through the public api; the api's calls touch the disk, so they run on a worker thread.
Every failure answers JSON `{"message": ...}` with a line the panel can show: 400/403/404
for what the client or user can fix, 500 for anything else (its traceback goes to the log).
"""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor

import tornado.web
from jupyter_server.utils import url_path_join

from hipercow_magic import api
from hipercow_magic.api.log_pages import LOG_PAGE_BYTES, MIN_PAGE_BYTES, task_log_page
from hipercow_magic.server.base import MAX_PAGE, HipercowHandler
from hipercow_magic.server.bundle_handlers import (
    BundleActionHandler,
    BundleHandler,
    BundlesHandler,
    CancelManyHandler,
)
from hipercow_magic.server.changes import Watches
from hipercow_magic.server.jsonable import jsonable
from hipercow_magic.server.roots import CACHE_SECONDS, ServedRoots
from hipercow_magic.server.table import TaskTable

MAX_LOG_PAGE = 4 * LOG_PAGE_BYTES
MAX_WAIT = 300  # seconds a request to /changes may wait at most
# ?search= on /roots: how long an earlier search for roots may be shared (none: no search)
SEARCHES = {"shared": CACHE_SECONDS, "fresh": 0.0, "none": None}


class RootsHandler(HipercowHandler):
    """GET: the served roots, and (with ?path=) the root holding that path."""

    @tornado.web.authenticated
    async def get(self):
        """`{"roots": [...], "current": key or null, "message": null or why the search for
        roots stopped early}`.

        `current` is looked up afresh on every request (a root made a moment ago is found).
        The list comes from a search shared for a few seconds, run on a thread of its own so
        a burst of look-ups never holds up the task lists; `?search=fresh` makes a new one,
        and `?search=none` skips it (`roots` and `message` are then null): what a client
        waiting for a root to appear asks, cheaply, again and again.
        """
        path = self.get_query_argument("path", None)
        search = self.get_query_argument("search", "shared")
        if search not in SEARCHES:
            raise tornado.web.HTTPError(
                400, f"Unknown search '{search}'; use one of {', '.join(SEARCHES)}"
            )
        roots, message = None, None
        if search != "none":
            found = await self.call(
                self.served.search_cached,
                SEARCHES[search],
                doing="list the roots",
                on=self.discovery,
            )
            if found.message:
                self.log.warning("hipercow: %s", found.message)
            roots, message = list(found.roots), found.message
        current = None
        if path is not None:
            current = await self.call(self.served.locate, path, doing="find the root")
        if roots is not None and current and current not in roots:
            roots.append(current)
        self.reply({"roots": roots, "current": current, "message": message})


class TasksHandler(HipercowHandler):
    """GET: one page of the root's tasks, newest first, with counts per status."""

    @tornado.web.authenticated
    async def get(self):
        """`?status=a,b&offset=&limit=&loose=1`: the page, with `total`, `counts` and `now`;
        with `loose=1`, the tasks of bundles are not on the page (`bundled`: how many).
        """
        key, root = self.root()
        statuses = self.statuses_argument()
        offset = self.int_argument("offset", 0)
        limit = self.int_argument("limit", 50, 0, MAX_PAGE)
        loose = bool(self.int_argument("loose", 0, 0, 1))
        page = await self.call(
            self.table.page, root, statuses, offset, limit, loose, doing="list the tasks"
        )
        page["root"] = key
        self.reply(page)


class ChangesHandler(HipercowHandler):
    """GET: a long poll answering as soon as a task of the root starts or ends."""

    _waiting: asyncio.Future | None = None

    @tornado.web.authenticated
    async def get(self):
        """`?since=TOKEN&timeout=SECONDS` (default 25): `{"root", "token", "changed",
        "counts", "problem", "now"}`.

        Without `since`, answers at once with the token of what the server knows now and
        `changed: []`. With the token of an earlier answer, answers as soon as a task's status
        changed after it (`changed`: `[{"id", "status"}]`, status null for a task deleted
        since), or after `timeout` seconds with `changed: []`; a token the server can't answer
        for (it restarted, or too much changed) is answered at once with `changed: null`:
        fetch everything again. `counts` are the root's counts per status, as `/tasks` gives.
        The look behind an answer is shared by every client of the root.
        """
        key, root = self.root()
        since = self.get_query_argument("since", None)
        timeout = self.int_argument("timeout", 25, 0, MAX_WAIT)
        loop = asyncio.get_running_loop()
        watch = await self.call(self.watches.get, key, root, loop, doing="watch the tasks")
        try:
            answer = watch.now() if since is None else watch.answer(since)
            if answer is None:
                self._waiting = asyncio.ensure_future(watch.wait(since, timeout))
                try:
                    await self._waiting
                except asyncio.CancelledError:  # the client went away: nobody to answer
                    return
                answer = watch.answer(since) or watch.now()
        finally:
            self.watches.done(watch)
        self.reply({"root": key, **answer})

    def on_connection_close(self):
        """The client went away: stop waiting for it."""
        if self._waiting is not None:
            self._waiting.cancel()


class TaskInfoHandler(HipercowHandler):
    """GET: `task_info` of one task: its fields, and `text` as `print(task_info(id))` shows."""

    @tornado.web.authenticated
    async def get(self, task_id):
        """The task's info fields, and `text`."""
        _, root = self.root()
        task_id = await self.call(self.task_id, root, task_id, doing="find the task")
        info = await self.call(api.task_info, task_id, root=root, doing="read the task")
        self.reply({**jsonable(info), "text": str(info)})


class TaskLogHandler(HipercowHandler):
    """GET: one page of the task's log (at most `limit` bytes): its tail, the page before
    `?before=`, or onward from `?offset=` (for tailing), and the offsets to ask from next.
    """

    @tornado.web.authenticated
    async def get(self, task_id):
        """`{"id", "text", "start", "offset", "size", "status"}`: the page covers bytes
        `start` to `offset` of a log of `size` bytes; ask `?offset=<offset>` for what follows
        and `?before=<start>` for what precedes.
        """
        _, root = self.root()
        task_id = await self.call(self.task_id, root, task_id, doing="find the task")
        offset = self.optional_offset("offset")
        before = self.optional_offset("before")
        limit = self.int_argument("limit", LOG_PAGE_BYTES, MIN_PAGE_BYTES, MAX_LOG_PAGE)
        page = await self.call(
            task_log_page, task_id, offset, before, limit, root=root, doing="read the log"
        )
        status = await self.call(api.task_status, task_id, root=root, doing="read the status")
        self.reply(
            {
                "id": task_id,
                "text": page["text"],
                "start": page["start"],
                "offset": page["end"],
                "size": page["size"],
                "status": status,
            }
        )


class TaskActionHandler(HipercowHandler):
    """POST cancel / retry of one task."""

    @tornado.web.authenticated
    async def post(self, task_id, action):
        """Cancel (`{"cancelled", "status"}`) or retry (`{"retried_as"}`) the task."""
        _, root = self.root()
        task_id = await self.call(self.task_id, root, task_id, doing="find the task")
        if action == "cancel":
            cancelled = await self.call(api.task_cancel, task_id, root=root)
            status = await self.call(api.task_status, task_id, root=root, doing="read the status")
            self.reply({"id": task_id, "cancelled": bool(cancelled), "status": status})
        else:
            retried = await self.call(api.task_retry, task_id, root=root)
            self.reply({"id": task_id, "retried_as": retried.id})


class ClusterHandler(HipercowHandler):
    """GET: `hipercow_cluster_info` of the root's configured driver."""

    @tornado.web.authenticated
    async def get(self):
        """The cluster's facts; `{"driver": null}` for a root with no driver configured."""
        _, root = self.root()
        configuration = await self.call(
            api.hipercow_configuration, show=False, root=root, doing="describe the cluster"
        )
        drivers = list(configuration["drivers"])
        if not drivers:
            self.reply({"driver": None})
            return
        info = await self.call(
            api.hipercow_cluster_info, drivers[0], root=root, doing="describe the cluster"
        )
        self.reply(info.to_dict() if hasattr(info, "to_dict") else info)


def handlers(
    base_url: str,
    served: ServedRoots,
    table: TaskTable,
    executor: ThreadPoolExecutor,
    changes_poll: float,
) -> list[tuple]:
    """The URL table for the server extension (`changes_poll`: seconds between looks at a
    root with unfinished tasks when no event came).
    """
    discovery = ThreadPoolExecutor(1, thread_name_prefix="hipercow-roots")
    kwargs = {
        "served": served,
        "table": table,
        "executor": executor,
        "discovery": discovery,
        "watches": Watches(changes_poll),
    }
    base = url_path_join(base_url, "hipercow")
    return [
        (url_path_join(base, "roots"), RootsHandler, kwargs),
        (url_path_join(base, "tasks"), TasksHandler, kwargs),
        (url_path_join(base, "changes"), ChangesHandler, kwargs),
        (url_path_join(base, "tasks", r"([^/]+)"), TaskInfoHandler, kwargs),
        (url_path_join(base, "tasks", r"([^/]+)", "log"), TaskLogHandler, kwargs),
        (url_path_join(base, "tasks", r"([^/]+)", r"(cancel|retry)"), TaskActionHandler, kwargs),
        (url_path_join(base, "cluster"), ClusterHandler, kwargs),
        (url_path_join(base, "cancel"), CancelManyHandler, kwargs),
        (url_path_join(base, "bundles"), BundlesHandler, kwargs),
        (url_path_join(base, "bundles", r"([^/]+)"), BundleHandler, kwargs),
        (
            url_path_join(base, "bundles", r"([^/]+)", r"(cancel|retry)"),
            BundleActionHandler,
            kwargs,
        ),
    ]
