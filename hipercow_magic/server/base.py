"""The request handler every `/hipercow/` endpoint builds on: the served roots, api calls
run off the event loop, query arguments checked, and failures answered as JSON
`{"message": ...}` with a line the panel can show.
"""

from __future__ import annotations

import asyncio
import json
from concurrent.futures import ThreadPoolExecutor

import tornado.web
from jupyter_server.base.handlers import APIHandler

from hipercow_magic import api
from hipercow_magic.core.errors import HipercowError, error_line
from hipercow_magic.core.root import check_task_id
from hipercow_magic.core.status import STATUSES
from hipercow_magic.server.changes import Watches
from hipercow_magic.server.jsonable import jsonable
from hipercow_magic.server.roots import PathRejected, RootNotFound, ServedRoots
from hipercow_magic.server.table import TaskTable

MAX_PAGE = 1000
MAX_OFFSET = 2**62  # past any file; larger numbers would not fit a seek


def _saying(doing: str | None, message: str) -> str:
    return f"Could not {doing}: {message}" if doing else message


class HipercowHandler(APIHandler):
    """Common parts: the served roots, running api calls off the event loop, errors as JSON."""

    def initialize(
        self,
        served: ServedRoots,
        table: TaskTable,
        executor: ThreadPoolExecutor,
        discovery: ThreadPoolExecutor,
        watches: Watches,
    ):
        """Tornado's per-request set-up: what every handler shares."""
        self.served = served
        self.table = table
        self.watches = watches
        self.executor = executor
        self.discovery = discovery

    async def call(
        self,
        fn,
        *args,
        doing: str | None = None,
        on: ThreadPoolExecutor | None = None,
        **kwargs,
    ):
        """Run `fn` on the worker pool (or the pool `on`), turning errors into HTTP errors
        with JSON messages.

        A hipercow error is a 400, anything unexpected a 500 (traceback in the server's log);
        with `doing`, their message says what failed: "Could not <doing>: <error>".
        """
        loop = asyncio.get_running_loop()
        try:
            return await loop.run_in_executor(on or self.executor, lambda: fn(*args, **kwargs))
        except PathRejected as e:
            raise tornado.web.HTTPError(403, str(e)) from None
        except RootNotFound as e:
            raise tornado.web.HTTPError(404, str(e)) from None
        except HipercowError as e:
            raise tornado.web.HTTPError(400, _saying(doing, str(e))) from None
        except tornado.web.HTTPError:
            raise
        except Exception as e:
            self.log.exception("hipercow: could not %s", doing or getattr(fn, "__name__", "?"))
            raise tornado.web.HTTPError(500, _saying(doing, error_line(e))) from None

    def root(self):
        """The key and `Root` named by `?root=`."""
        path = self.get_query_argument("root", None)
        if path is None:
            raise tornado.web.HTTPError(
                400, "Missing root: pass ?root=PATH (a folder relative to the server's root)"
            )
        try:
            return self.served.resolve(path)
        except PathRejected as e:
            raise tornado.web.HTTPError(403, str(e)) from None
        except RootNotFound as e:
            raise tornado.web.HTTPError(404, str(e)) from None

    def task_id(self, root, task_id: str) -> str:
        """A well-formed id of a task that exists in `root`."""
        try:
            task_id = check_task_id(task_id)
        except HipercowError as e:
            raise tornado.web.HTTPError(400, str(e)) from None
        if api.task_status(task_id, follow=False, root=root) is None:
            raise tornado.web.HTTPError(404, f"Task '{task_id}' does not exist in this root")
        self.served.check_task_files(root, task_id)
        return task_id

    def int_argument(self, name: str, default: int, low: int = 0, high: int | None = None) -> int:
        """The whole-number query argument `name`, checked to lie in [low, high]."""
        raw = self.get_query_argument(name, None)
        if raw is None:
            return default
        try:
            value = int(raw)
        except ValueError:
            raise tornado.web.HTTPError(
                400, f"'{name}' must be a whole number, not '{raw}'"
            ) from None
        if value < low or (high is not None and value > high):
            raise tornado.web.HTTPError(400, f"'{name}' must be between {low} and {high}")
        return value

    def statuses_argument(self) -> list[str]:
        """The statuses named by `?status=a,b` (none: every status), checked."""
        statuses = [s for s in self.get_query_argument("status", "").split(",") if s]
        unknown = [s for s in statuses if s not in STATUSES]
        if unknown:
            raise tornado.web.HTTPError(
                400, f"Unknown status {', '.join(unknown)}; use some of {', '.join(STATUSES)}"
            )
        return statuses

    def optional_offset(self, name: str) -> int | None:
        """A byte offset query argument (a whole number from 0), or None when not given."""
        if self.get_query_argument(name, None) is None:
            return None
        return self.int_argument(name, 0, 0, MAX_OFFSET)

    def reply(self, value) -> None:
        """Answer `value` as JSON."""
        self.finish(json.dumps(jsonable(value)))
