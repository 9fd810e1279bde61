"""REST handlers for bundles, and for cancelling many tasks at once: what the panel's
bundle rows and its check boxes ask.
"""

from __future__ import annotations

import json

import tornado.web

from hipercow_magic import api
from hipercow_magic.core.errors import HipercowError
from hipercow_magic.core.root import check_task_id
from hipercow_magic.engine.bundles import bundle_exists, check_bundle_name
from hipercow_magic.server.base import MAX_PAGE, HipercowHandler
from hipercow_magic.server.bundles import bundle_tasks, bundles_page, retry_failed

MAX_CANCEL = 10_000  # tasks one request may cancel at most


class BundleBase(HipercowHandler):
    """A handler naming a bundle of the root in its path."""

    def bundle_name(self, root, name: str) -> str:
        """`name`, checked to be a bundle of `root` (400 for a malformed name, 404 for none)."""
        try:
            check_bundle_name(name)
        except HipercowError as e:
            raise tornado.web.HTTPError(400, str(e)) from None
        if not bundle_exists(root, name):
            raise tornado.web.HTTPError(404, f"No bundle '{name}' in this root")
        return name


class BundlesHandler(HipercowHandler):
    """GET: a page of the root's bundles, newest first, with their counts per status."""

    @tornado.web.authenticated
    async def get(self):
        """`?offset=&limit=`: `{"root", "bundles": [{"name", "size", "counts"}], "total",
        "offset", "limit", "now"}`.
        """
        key, root = self.root()
        offset = self.int_argument("offset", 0)
        limit = self.int_argument("limit", 20, 0, MAX_PAGE)
        page = await self.call(bundles_page, root, offset, limit, doing="list the bundles")
        self.reply({"root": key, **page})


class BundleHandler(BundleBase):
    """GET: a page of one bundle's tasks (each row the newest retry of its task)."""

    @tornado.web.authenticated
    async def get(self, name):
        """`?status=a,b&offset=&limit=`: `{"root", "name", "size", "counts", "tasks",
        "total", "offset", "limit", "now"}`; each task as `/tasks` lists it, with its
        `original` id (the one the bundle holds) and `row` (its parameters).
        """
        key, root = self.root()
        name = await self.call(self.bundle_name, root, name, doing="find the bundle")
        statuses = self.statuses_argument()
        offset = self.int_argument("offset", 0)
        limit = self.int_argument("limit", 50, 0, MAX_PAGE)
        page = await self.call(
            bundle_tasks,
            self.table,
            root,
            name,
            statuses,
            offset,
            limit,
            doing="list the bundle's tasks",
        )
        self.reply({"root": key, **page})


class BundleActionHandler(BundleBase):
    """POST cancel (every queued or running task) / retry (the failed and cancelled ones)."""

    @tornado.web.authenticated
    async def post(self, name, action):
        """`{"name", "cancelled": N}` or `{"name", "retried": N}`: how many tasks it acted on."""
        _, root = self.root()
        name = await self.call(self.bundle_name, root, name, doing="find the bundle")
        if action == "cancel":
            done = await self.call(api.hipercow_bundle_cancel, name, root=root)
            self.reply({"name": name, "cancelled": sum(done)})
        else:
            retried = await self.call(retry_failed, root, name, doing=f"retry bundle '{name}'")
            self.reply({"name": name, "retried": retried})


class CancelManyHandler(HipercowHandler):
    """POST: cancel several tasks at once (body `{"ids": [...]}`)."""

    @tornado.web.authenticated
    async def post(self):
        """`{"ids", "cancelled": [bool, ...], "statuses"}` in the order given; a task that was
        not queued or running is not cancelled.
        """
        _, root = self.root()
        ids = self._ids()
        await self.call(self._check, root, ids, doing="find the tasks")
        cancelled = await self.call(api.task_cancel, ids, follow=False, root=root)
        statuses = await self.call(
            api.task_status, ids, follow=False, root=root, doing="read the statuses"
        )
        self.reply({"ids": ids, "cancelled": cancelled, "statuses": statuses})

    def _check(self, root, ids: list[str]) -> None:
        """Every one of `ids` is a task of `root` (404 naming the first that is not)."""
        for task_id, status in zip(ids, api.task_status(ids, follow=False, root=root)):
            if status is None:
                raise tornado.web.HTTPError(404, f"Task '{task_id}' does not exist in this root")
            self.served.check_task_files(root, task_id)

    def _ids(self) -> list[str]:
        try:
            body = json.loads(self.request.body or b"null")
        except ValueError:
            body = None
        ids = body.get("ids") if isinstance(body, dict) else None
        if not isinstance(ids, list) or not ids or not all(isinstance(i, str) for i in ids):
            raise tornado.web.HTTPError(
                400, 'Send the tasks to cancel as JSON: {"ids": ["<task id>", ...]}'
            )
        if len(ids) > MAX_CANCEL:
            raise tornado.web.HTTPError(
                400, f"At most {MAX_CANCEL:,} tasks can be cancelled at once, not {len(ids):,}"
            )
        try:
            return list(dict.fromkeys(check_task_id(i) for i in ids))
        except HipercowError as e:
            raise tornado.web.HTTPError(400, str(e)) from None
