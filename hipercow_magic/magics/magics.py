"""The magics object: its settings (traitlets), the IPython hooks that deliver values
between cells, the displays, and the three magics `%%hipercow`, `%hipercow` and
`%hipercow_info`.
"""

from __future__ import annotations

import asyncio
import functools
import sys
import time
import weakref

from IPython.core.error import UsageError
from IPython.core.magic import Magics, cell_magic, line_magic, magics_class
from IPython.display import display as show
from traitlets import Bool, CaselessStrEnum, Float, Int, Unicode, observe

from hipercow_magic import api
from hipercow_magic.cli.args import task_options
from hipercow_magic.core.errors import HipercowError
from hipercow_magic.core.options import options
from hipercow_magic.core.status import TERMINAL
from hipercow_magic.magics import commands
from hipercow_magic.magics.chains import chain_options, importable_names
from hipercow_magic.magics.delivery import Delivery, next_sequence
from hipercow_magic.magics.parsers import cell_parser, line_parser
from hipercow_magic.magics.reads import WaitForPending
from hipercow_magic.magics.waiting import (
    UNSET,
    pending_setters,
    register,
    unregister,
    wait_for_task,
)
from hipercow_magic.widgets.model import BulkModel, TaskModel
from hipercow_magic.widgets.model.task import reuse_note
from hipercow_magic.widgets.tables import cluster_table, task_list_widget, task_table
from hipercow_magic.widgets.text import bulk_text, task_text
from hipercow_magic.widgets.updater import get_updater

CELL_PARSER = cell_parser()
BODY_LINE = 2  # a %%hipercow cell's code starts under its magic line, as the notebook numbers it


def one_line(message) -> str:
    """A HipercowError's message as one line (hints joined with ' — ')."""
    lines = [line.strip() for line in str(message).splitlines() if line.strip()]
    return " — ".join(lines)


class _Usage:
    """Turn HipercowErrors raised inside into one-line UsageErrors (no traceback)."""

    def __enter__(self):
        return self

    def __exit__(self, kind, value, tb):
        if kind is not None and issubclass(kind, HipercowError):
            raise UsageError(one_line(value)) from None
        return False


def _running_loop():
    try:
        return asyncio.get_running_loop()
    except RuntimeError:
        return None


@magics_class
class HipercowMagics(Magics):
    """The hipercow magics; the traits below are settable with `%config` or a config file."""

    display = CaselessStrEnum(
        ["auto", "widget", "text"],
        default_value="auto",
        help="How tasks are shown: live ipywidgets, plain text, or 'auto' (widgets in a kernel)",
    ).tag(config=True)
    refresh_interval = Float(1.0, help="Seconds between refreshes of live displays").tag(
        config=True
    )
    default_driver = Unicode(
        None, allow_none=True, help="Driver for tasks when --driver is not given"
    ).tag(config=True)
    max_size_local = Int(
        None, allow_none=True, help="Largest captured variable in bytes (None: the core's default)"
    ).tag(config=True)
    log_lines = Int(20, help="Lines in a widget's live log tail").tag(config=True)
    reuse = Bool(
        None,
        allow_none=True,
        help="Whether an unchanged %%hipercow cell reuses its earlier task (None: "
        "hipercow_magic.options.reuse, on unless HIPERCOW_REUSE=0)",
    ).tag(config=True)

    def __init__(self, shell):
        super().__init__(shell)
        # A kernel's loop runs only while no cell does; so does a terminal's prompt loop.
        loop = _running_loop() or getattr(shell, "pt_loop", None)
        self.delivery = Delivery(shell.user_ns, loop=loop)
        self.updater = get_updater()
        self.models = weakref.WeakSet()  # task models on display (kept alive by their views)
        # models whose values have not arrived yet, or never will (failed, cancelled)
        self._awaiting: list[TaskModel] = []
        self._catch_up_problems: dict[str, str] = {}  # root path -> the problem last shown
        self.updater.interval = self.refresh_interval
        if self.max_size_local is not None:
            options.max_size_local = self.max_size_local
        if self.reuse is not None:
            options.reuse = self.reuse
        shell.events.register("pre_run_cell", self._pre_run_cell)
        shell.events.register("post_run_cell", self._post_run_cell)
        # a cell reading a name a pending task will set waits for it first (a %%hipercow
        # cell's code imports it from that task instead)
        self._transformer = WaitForPending(
            id(self), self.pending_names, functools.partial(importable_names, self)
        )
        register(id(self), self)
        shell.ast_transformers.append(self._transformer)

    @observe("refresh_interval")
    def _refresh_changed(self, change) -> None:
        get_updater().interval = change["new"]  # may run while configuring, before __init__ ends

    @observe("max_size_local")
    def _size_changed(self, change) -> None:
        if change["new"] is not None:
            options.max_size_local = change["new"]

    @observe("reuse")
    def _reuse_changed(self, change) -> None:
        if change["new"] is not None:
            options.reuse = change["new"]

    # ---- values between cells ---------------------------------------------------------
    def _pre_run_cell(self, *args) -> None:
        if self.delivery.loop is None and self.widgets_enabled():
            self.delivery.loop = _running_loop()
        try:
            self._catch_up()
        finally:
            self.delivery.pre_run_cell()

    def _catch_up(self) -> None:
        """Before a cell runs, collect tasks that finished since the updater last looked, so
        a cell that follows a finished task always sees its values (one status query).
        When the query fails, say so (once per problem) and show it on the displays.
        """
        self._awaiting = [
            m for m in self._awaiting if m.export and (not m.delivered or m.status in UNSET)
        ]
        by_root: dict = {}
        for model in self._awaiting:
            if not model.delivered:
                by_root.setdefault(model.root, []).append(model)
        now = time.time()
        for root, models in by_root.items():
            ids = [m.id for m in models]
            try:
                statuses = dict(zip(ids, api.task_status(ids, follow=False, root=root)))
            except HipercowError as e:
                self._catch_up_failed(root, models, e)
                continue
            solved = self._catch_up_problems.pop(root.path, None)
            for model in models:
                if solved is not None and model.problem == f"HipercowError: {solved}":
                    model.set_problem(None, now)  # checking works again
                if statuses.get(model.id) in TERMINAL:
                    try:
                        model.update(statuses, now)
                    except Exception as e:  # e.g. the task was purged: stop waiting for it
                        model.delivered = True
                        model.set_problem(f"{type(e).__name__}: {e}", now)

    def _catch_up_failed(self, root, models: list[TaskModel], error: HipercowError) -> None:
        problem = one_line(error)
        for model in models:
            model.set_problem(f"HipercowError: {problem}", time.time())
        if self._catch_up_problems.get(root.path) == problem:
            return
        self._catch_up_problems[root.path] = problem
        n = len(models)
        print(
            f"! hipercow could not check {n} task{'s' if n > 1 else ''} before this cell, so "
            f"{'their' if n > 1 else 'its'} values may arrive later: {problem}",
            file=sys.stderr,
        )

    def _post_run_cell(self, *args) -> None:
        self.delivery.post_run_cell()

    def awaiting(self) -> list[TaskModel]:
        """The displayed tasks whose values may still arrive (some may have arrived since),
        and those that failed or were cancelled, so will never set theirs.
        """
        return list(self._awaiting)

    def keep_awaiting(self, model: TaskModel) -> None:
        """Deliver this task's values between cells when it succeeds."""
        if model not in self._awaiting:
            self._awaiting.append(model)
        self.updater.watch(model)

    def pending_names(self) -> set[str]:
        """The names tasks of this session will set and have not set yet, and those missing
        because the task that was to set them failed.
        """
        return set(pending_setters(self)) if self._awaiting else set()

    def close(self) -> None:
        """Stop delivering values and waiting for them (used when the extension is unloaded)."""
        unregister(id(self))
        if self._transformer in self.shell.ast_transformers:
            self.shell.ast_transformers.remove(self._transformer)
        for name, hook in (
            ("pre_run_cell", self._pre_run_cell),
            ("post_run_cell", self._post_run_cell),
        ):
            try:
                self.shell.events.unregister(name, hook)
            except ValueError:
                pass

    # ---- displays -----------------------------------------------------------------
    def widgets_enabled(self) -> bool:
        """Whether displays are live widgets (the `display` trait; 'auto': in a kernel)."""
        if self.display == "widget":
            return True
        if self.display == "text":
            return False
        return getattr(self.shell, "kernel", None) is not None

    def show_task(self, model: TaskModel) -> None:
        """Display a task (a widget, or text) and keep it, and its values, up to date."""
        self.models.add(model)
        self.delivery.track(model.sequence, model)  # where the values it sets come from
        self._awaiting.append(model)
        if self.widgets_enabled():
            from hipercow_magic.widgets.task_widget import TaskWidget

            show(TaskWidget(model, log_lines=self.log_lines))
        else:
            print(task_text(model))
            model.on_change(self._announcer(model))
        self.updater.watch(model)

    def show_bundle(self, model: BulkModel) -> None:
        """Display a bundle (a widget, or text) and keep it up to date."""
        if self.widgets_enabled():
            from hipercow_magic.widgets.bulk_widget import BulkWidget

            show(BulkWidget(model))
        else:
            print(bulk_text(model))
        self.updater.watch(model)

    def show_task_list(self, ids: list[str], limit: int) -> None:
        """Display a table of tasks (at most `limit`, 0: all); in a kernel, a picker shows
        any of them live.
        """
        shown = ids if limit <= 0 else ids[:limit]
        root = api.hipercow_root()
        table = task_table(api.task_summaries(shown), len(ids), root.path)
        if not self.widgets_enabled():
            print(table)
            return

        def show_one(task_id: str) -> None:
            self.show_task(TaskModel(task_id, root, self.delivery, next_sequence(), export=False))

        show(task_list_widget(table, shown, root, show_one))

    def watch_again(self, ids: list[str]) -> None:
        """Refresh the displays of these tasks again (e.g. once they have been submitted)."""
        for model in list(self.models):
            if model.id in ids:
                self.updater.watch(model)

    def follow_retry(self, old: str, new: str) -> None:
        """Make the displays of task `old` show its retry `new`, whose values arrive instead."""
        for model in list(self.models):
            if model.id == old:
                model.follow(new)
                self.keep_awaiting(model)

    def _announcer(self, model: TaskModel):
        """In text mode: say once, between cells, how a task ended."""
        said = []

        def announce(now):
            if said or model.status not in TERMINAL or not model.delivered:
                return
            said.append(True)
            self.delivery.announce(task_text(model, now))

        return announce

    # ---- %%hipercow ---------------------------------------------------------------
    @cell_magic("hipercow")
    def hipercow_cell(self, line: str, cell: str):
        """Run this cell on the cluster as a task (the full help is set from its parser)."""
        args = CELL_PARSER.parse_argstring(line)
        if args.out is not None and not commands.IDENTIFIER.match(args.out):
            raise UsageError(f"-o/--out needs a variable name, not '{args.out}'")
        with _Usage():
            common = chain_options(self, task_options(args, self.default_driver), cell)
            if args.bulk is not None:
                return self._submit_bulk(args, cell, common)
            task = api.task_create_expr(
                cell,
                namespace=self.shell.user_ns,
                name=args.name,
                first_line=BODY_LINE,
                reuse="rerun" if args.rerun else options.reuse,  # an unchanged cell's task
                **common,
            )
        sequence = next_sequence()
        if args.out:
            self.shell.user_ns[args.out] = task
        model = TaskModel(
            task.id, task.root, self.delivery, sequence, not args.no_export, reuse_note(task)
        )
        self.show_task(model)
        if args.wait:
            return wait_for_task(self, model)
        return None

    hipercow_cell.__doc__ = CELL_PARSER.format_help()

    def _submit_bulk(self, args, cell: str, common: dict):
        try:
            data = eval(args.bulk, self.shell.user_ns)
        except Exception as e:
            raise UsageError(
                f"Could not evaluate --bulk {args.bulk!r}: {type(e).__name__}: {e}"
            ) from None
        bundle = api.task_create_bulk_expr(
            cell,
            data,
            namespace=self.shell.user_ns,
            bundle_name=args.name,
            first_line=BODY_LINE,
            **common,
        )
        if args.out:
            self.shell.user_ns[args.out] = bundle
        model = BulkModel(bundle, bundle.root)
        self.show_bundle(model)
        if not args.wait:
            return None
        try:
            bundle.wait(fail_early=False)
        except KeyboardInterrupt:
            print(f"ℹ Stopped waiting for bundle '{bundle.name}'; its tasks carry on")
            return None
        model.update(
            dict(zip(bundle.ids, api.task_status(bundle.ids, root=bundle.root))), time.time()
        )
        if not self.widgets_enabled():
            print(bulk_text(model))
        return bundle.result()

    # ---- %hipercow_info ------------------------------------------------------------
    @line_magic("hipercow_info")
    def hipercow_info(self, line: str):
        """The configured cluster (nodes, cores, memory, queues); with a task id, its info."""
        target = line.strip()
        with _Usage():
            if target:
                print(api.task_info(commands.resolve_id(self, target)))
                return
            show(cluster_table(api.hipercow_cluster_info()))

    # ---- %hipercow -----------------------------------------------------------------
    @line_magic("hipercow")
    def hipercow_line(self, line: str):
        """Hipercow commands: init, configure, unconfigure, configuration, hello, provision,
        environment, remote, status, list, show, info, result, log, wait, cancel, submit,
        retry, why, purge.
        `%hipercow help` lists them and `%hipercow COMMAND -h` explains one.
        """
        parser = line_parser()
        try:
            args = parser.parse_argstring(line)
        except SystemExit:  # `-h` printed a command's help
            return None
        if args.command in (None, "help"):
            print(parser.format_help())
            return None
        with _Usage():
            return commands.COMMANDS[args.command](self, args)
