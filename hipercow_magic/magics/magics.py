"""IPython magics: `%%hipercow` sends a cell to the cluster, `%hipercow` and `%hipercow_info`.

Load with `%load_ext hipercow_magic` (or `c.InteractiveShellApp.extensions`). Settings are
traitlets, e.g. `%config HipercowMagics.refresh_interval = 0.5`.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import re
import time
import weakref

from IPython.core import magic_arguments as ma
from IPython.core.error import UsageError
from IPython.core.magic import Magics, cell_magic, line_magic, magics_class
from IPython.core.magic_arguments import MagicArgumentParser
from IPython.display import display as show
from traitlets import CaselessStrEnum, Float, Int, Unicode, observe

from hipercow_magic import api
from hipercow_magic.api import Bundle, hipercow_bundle_list, hipercow_bundle_load
from hipercow_magic.cli.args import (
    add_environment_parser,
    add_provision_parser,
    environment_command,
    provision_command,
)
from hipercow_magic.core.errors import HipercowError
from hipercow_magic.core.options import options
from hipercow_magic.core.status import TERMINAL
from hipercow_magic.magics.delivery import Delivery, next_sequence
from hipercow_magic.widgets.model import BulkModel, TaskModel, short_id
from hipercow_magic.widgets.tables import cluster_table, task_list_widget, task_table
from hipercow_magic.widgets.text import bulk_text, task_text
from hipercow_magic.widgets.updater import get_updater

_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_HEX = re.compile(r"^[0-9a-f]{4,32}$")


def one_line(message: str) -> str:
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


def _options(pairs: list[str]) -> dict:
    """KEY=VALUE pairs; values parsed as JSON when they parse (numbers, lists)."""
    out = {}
    for pair in pairs or []:
        if "=" not in pair:
            raise HipercowError(f"Invalid option '{pair}': expected KEY=VALUE")
        key, value = pair.split("=", 1)
        try:
            out[key.replace("-", "_")] = json.loads(value)
        except ValueError:
            out[key.replace("-", "_")] = value
    return out


def _hold_until(text: str | None):
    if text is None:
        return None
    if re.match(r"^\d{4}-\d{2}-\d{2}", text):
        try:
            value = dt.datetime.fromisoformat(text)
        except ValueError:
            raise HipercowError(
                f"Invalid value for 'hold_until': {text}\nUse a date and time like 2030-01-31T18:00"
            ) from None
        return value.date() if len(text) == 10 else value
    return text


def _resources(args):
    fields = {
        "cores": args.cores,
        "exclusive": args.exclusive or None,
        "max_runtime": args.max_runtime,
        "hold_until": _hold_until(args.hold_until),
        "memory_per_node": args.memory_per_node,
        "memory_per_process": args.memory_per_process,
        "requested_nodes": args.nodes,
        "priority": args.priority,
        "queue": args.queue,
    }
    given = {k: v for k, v in fields.items() if v is not None}
    if not given:
        return None
    cores = given.get("cores")
    if isinstance(cores, str) and re.fullmatch(r"\s*\d+\s*", cores):
        given["cores"] = int(cores)
    return api.hipercow_resources(**given)


def _parallel(args):
    if args.parallel is None and args.cores_per_process is None:
        return None
    return api.hipercow_parallel(args.parallel, cores_per_process=args.cores_per_process or 1)


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive whole number, not '{text}'")
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive whole number, not '{text}'")
    return value


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

    def __init__(self, shell):
        super().__init__(shell)
        # A kernel's loop runs only while no cell does; so does a terminal's prompt loop.
        loop = _running_loop() or getattr(shell, "pt_loop", None)
        self.delivery = Delivery(shell.user_ns, loop=loop)
        self.updater = get_updater()
        self.models = weakref.WeakSet()  # task models on display (kept alive by their views)
        self._awaiting: list[TaskModel] = []  # models whose values have not arrived yet
        self.updater.interval = self.refresh_interval
        if self.max_size_local is not None:
            options.max_size_local = self.max_size_local
        shell.events.register("pre_run_cell", self._pre_run_cell)
        shell.events.register("post_run_cell", self._post_run_cell)

    @observe("refresh_interval")
    def _refresh_changed(self, change) -> None:
        get_updater().interval = change["new"]  # may run while configuring, before __init__ ends

    @observe("max_size_local")
    def _size_changed(self, change) -> None:
        if change["new"] is not None:
            options.max_size_local = change["new"]

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
        """
        self._awaiting = [m for m in self._awaiting if m.export and not m.delivered]
        by_root: dict = {}
        for model in self._awaiting:
            by_root.setdefault(model.root, []).append(model)
        now = time.time()
        for root, models in by_root.items():
            ids = [m.id for m in models]
            try:
                statuses = dict(zip(ids, api.task_status(ids, follow=False, root=root)))
            except HipercowError:
                continue
            for model in models:
                if statuses.get(model.id) in TERMINAL:
                    try:
                        model.update(statuses, now)
                    except Exception as e:  # e.g. the task was purged: stop waiting for it
                        model.problem = f"{type(e).__name__}: {e}"
                        model.delivered = True

    def _post_run_cell(self, *args) -> None:
        self.delivery.post_run_cell()

    def close(self) -> None:
        """Stop delivering values (used when the extension is unloaded)."""
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
        if self.display == "widget":
            return True
        if self.display == "text":
            return False
        return getattr(self.shell, "kernel", None) is not None

    def _show_task(self, model: TaskModel) -> None:
        self.models.add(model)
        self._awaiting.append(model)
        if self.widgets_enabled():
            from hipercow_magic.widgets.task_widget import TaskWidget

            show(TaskWidget(model, log_lines=self.log_lines))
        else:
            print(task_text(model))
            model.on_change(self._announcer(model))
        self.updater.watch(model)

    def _show_bundle(self, model: BulkModel) -> None:
        if self.widgets_enabled():
            from hipercow_magic.widgets.bulk_widget import BulkWidget

            show(BulkWidget(model))
        else:
            print(bulk_text(model))
        self.updater.watch(model)

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
    @ma.magic_arguments(name="%hipercow")
    @ma.argument("--cores", metavar="N|Inf", help="cores for the task (an integer or Inf)")
    @ma.argument("--exclusive", action="store_true", help="a whole node to the task")
    @ma.argument("--max-runtime", metavar="TIME", help="time limit: minutes, or e.g. 2h30m")
    @ma.argument(
        "--hold-until",
        metavar="WHEN",
        help="start no earlier than: minutes, 5h, tonight, midnight, weekend, or a date/time",
    )
    @ma.argument("--memory-per-node", metavar="SIZE", help="memory the node needs, e.g. 8G")
    @ma.argument("--memory-per-process", metavar="SIZE", help="memory the task uses, e.g. 2G")
    @ma.argument("--nodes", metavar="A,B", help="run only on these nodes")
    @ma.argument("--priority", choices=["low", "normal"], help="scheduling priority")
    @ma.argument("--queue", metavar="NAME", help="queue (partition) to use")
    @ma.argument(
        "--parallel",
        choices=["parallel", "future"],
        help="start workers on the task's cores: hipercow_magic.pool() / executor()",
    )
    @ma.argument(
        "--cores-per-process",
        type=_positive_int,
        metavar="N",
        help="cores for each parallel worker",
    )
    @ma.argument(
        "--environment",
        metavar="NAME",
        default="default",
        help="environment to run in (see hipercow_environment_list())",
    )
    @ma.argument(
        "--envvar",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="environment variable for the task (repeatable)",
    )
    @ma.argument("--driver", metavar="NAME", help="driver to submit with")
    @ma.argument("--name", metavar="NAME", help="a name for the task (or bundle, with --bulk)")
    @ma.argument(
        "--bulk",
        metavar="DATA",
        help="one task per element or row of DATA (a name or expression); a row's "
        "keys or columns become variables of the cell",
    )
    @ma.argument(
        "--wait",
        action="store_true",
        help="block until done; the cell's output is its last value (Ctrl-C stops "
        "waiting, not the task)",
    )
    @ma.argument("-o", "--out", metavar="VAR", help="put the task (or bundle) handle in VAR")
    @ma.argument(
        "--no-export",
        action="store_true",
        help="do not set the cell's variables in the notebook when the task succeeds",
    )
    @cell_magic("hipercow")
    def hipercow_cell(self, line: str, cell: str):
        """Run this cell on the cluster as a task.

        The names the cell reads are captured from the notebook; when the task succeeds,
        the names it assigns at top level appear in the notebook (between cells), and a
        live display shows its status, queue state, times, log and result.
        """
        args = ma.parse_argstring(self.hipercow_cell, line)
        if args.out is not None and not _IDENTIFIER.match(args.out):
            raise UsageError(f"-o/--out needs a variable name, not '{args.out}'")
        with _Usage():
            common = dict(
                environment=args.environment,
                driver=args.driver or self.default_driver,
                resources=_resources(args),
                parallel=_parallel(args),
                envvars=api.hipercow_envvars(*args.envvar) if args.envvar else None,
            )
            if args.bulk is not None:
                return self._submit_bulk(args, cell, common)
            task = api.task_create_expr(
                cell, namespace=self.shell.user_ns, name=args.name, **common
            )
        sequence = next_sequence()
        if args.out:
            self.shell.user_ns[args.out] = task
        model = TaskModel(task.id, task.root, self.delivery, sequence, export=not args.no_export)
        self._show_task(model)
        if args.wait:
            return self._wait_task(model)
        return None

    def _submit_bulk(self, args, cell: str, common: dict):
        try:
            data = eval(args.bulk, self.shell.user_ns)
        except Exception as e:
            raise UsageError(
                f"Could not evaluate --bulk {args.bulk!r}: {type(e).__name__}: {e}"
            ) from None
        bundle = api.task_create_bulk_expr(
            cell, data, namespace=self.shell.user_ns, bundle_name=args.name, **common
        )
        if args.out:
            self.shell.user_ns[args.out] = bundle
        model = BulkModel(bundle, bundle.root)
        self._show_bundle(model)
        if args.wait:
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
        return None

    def _wait_task(self, model: TaskModel):
        """Block until the task ends; set its values now and return its last value."""
        with model.lock:
            model.export = False
        try:
            ok = api.task_wait(model.id, follow=False, root=model.root)
        except KeyboardInterrupt:
            print(
                f"ℹ Stopped waiting for task '{short_id(model.id)}'; it carries on and its "
                "values arrive when it finishes"
            )
            self._resume_export(model)
            return None
        model.update(
            {model.id: api.task_status(model.id, follow=False, root=model.root)}, time.time()
        )
        if ok:
            values = api.task_exports(model.id, follow=False, root=model.root)
            model.mark_delivered(self.delivery.deliver_now(model.sequence, values))
            model.notify(time.time())
        if ok and model.has_result:
            return api.task_result(model.id, follow=False, root=model.root)
        return None

    def _resume_export(self, model: TaskModel) -> None:
        with model.lock:
            model.export = True
            if model.status == "success" and model.exported is None:
                values = api.task_exports(model.id, follow=False, root=model.root)
                model.delivered = False
                self.delivery.submit(model.sequence, values, model._delivered)
        self.updater.watch(model)

    # ---- %hipercow_info ------------------------------------------------------------
    @line_magic("hipercow_info")
    def hipercow_info(self, line: str):
        """The configured cluster (nodes, cores, memory, queues); with a task id, its info."""
        target = line.strip()
        with _Usage():
            if target:
                print(api.task_info(self._task_id(target)))
                return
            show(cluster_table(api.hipercow_cluster_info()))

    # ---- %hipercow -----------------------------------------------------------------
    @line_magic("hipercow")
    def hipercow_line(self, line: str):
        """Hipercow commands: init, configure, unconfigure, configuration, hello, provision,
        environment, status, list, show, info, result, log, wait, cancel, retry, purge.
        `%hipercow help` lists them and `%hipercow COMMAND -h` explains one.
        """
        parser = self._line_parser()
        try:
            args = parser.parse_argstring(line)
        except SystemExit:  # `-h` printed a command's help
            return None
        if args.command in (None, "help"):
            print(parser.format_help())
            return None
        with _Usage():
            return getattr(self, "_cmd_" + args.command)(args)

    def _line_parser(self) -> MagicArgumentParser:
        top = MagicArgumentParser(prog="hipercow", description="hipercow commands")
        sub = top.add_subparsers(dest="command", metavar="COMMAND")

        def command(name: str, help: str):
            return sub.add_parser(name, help=help, description=help, add_help=True)

        command("help", "this help")
        p = command("init", "create a root (and configure a driver)")
        p.add_argument("path", nargs="?", default=".")
        p.add_argument("--driver")
        p.add_argument("--cluster", help="the local driver's virtual cluster, e.g. example")
        p.add_argument("--option", action="append", default=[], metavar="KEY=VALUE")
        p = command("configure", "configure a driver for this root")
        p.add_argument("driver")
        p.add_argument("option", nargs="*", metavar="KEY=VALUE")
        p = command("unconfigure", "remove a driver's configuration")
        p.add_argument("driver")
        command("configuration", "paths, versions, drivers, environments")
        p = command("hello", "run a small test task")
        p.add_argument("--driver")
        add_provision_parser(sub)
        add_environment_parser(sub)
        p = command("status", "status of tasks (or counts for the whole root)")
        p.add_argument("ids", nargs="*", metavar="ID")
        p = command("list", "the root's tasks, newest first")
        p.add_argument("--status", action="append", default=[])
        p.add_argument("--bundle")
        p.add_argument("-n", type=int, default=50, help="show at most N tasks (0: all)")
        p = command("show", "re-display a task or bundle as a live display")
        p.add_argument("id", metavar="ID")
        p.add_argument(
            "--export",
            action="store_true",
            help="set the task's variables in the notebook when it succeeds",
        )
        p = command("info", "everything known about a task")
        p.add_argument("id", metavar="ID")
        p = command("result", "a task's value (or a bundle's values)")
        p.add_argument("id", metavar="ID")
        p.add_argument("-o", "--out", metavar="VAR")
        p.add_argument(
            "--export", action="store_true", help="also set the variables the task assigned"
        )
        p = command("log", "a task's log")
        p.add_argument("id", metavar="ID")
        p.add_argument("--follow", action="store_true", help="print it as it grows")
        p.add_argument("--outer", action="store_true", help="the scheduler's own log")
        p = command("wait", "wait for a task or bundle")
        p.add_argument("id", metavar="ID")
        p.add_argument("--timeout", type=float)
        p = command("cancel", "cancel tasks")
        p.add_argument("ids", nargs="+", metavar="ID")
        p = command("submit", "submit tasks created while no driver was configured")
        p.add_argument("ids", nargs="+", metavar="ID")
        p.add_argument("--driver")
        p = command("retry", "run finished tasks again")
        p.add_argument("ids", nargs="+", metavar="ID")
        p = command("purge", "delete finished tasks")
        p.add_argument("ids", nargs="*", metavar="ID")
        p.add_argument("--status", action="append", default=[])
        p.add_argument("--finished-before")
        p.add_argument("--bundle")
        p.add_argument("--dry-run", action="store_true")
        return top

    # ---- resolving what the user typed ------------------------------------------------
    def _handle(self, text: str):
        """A Task or Bundle from a variable, a bundle name, a task id or an id prefix."""
        value = self.shell.user_ns.get(text)
        if isinstance(value, (api.Task, Bundle)):
            return value
        if _HEX.match(text):
            return api.Task(self._task_id(text))
        if text in hipercow_bundle_list():
            return hipercow_bundle_load(text)
        raise HipercowError(
            f"No task or bundle '{text}': give a task id (or its first "
            "characters), a bundle name or a variable holding a handle"
        )

    def _task_id(self, text: str) -> str:
        value = self.shell.user_ns.get(text)
        if isinstance(value, api.Task):
            return value.id
        text = text.lower()
        if not _HEX.match(text):
            raise HipercowError(f"'{text}' is not a task id")
        if len(text) == 32:
            return text
        matches = [i for i in api.task_list() if i.startswith(text)]
        if len(matches) == 1:
            return matches[0]
        if not matches:
            raise HipercowError(f"No task id starts with '{text}'")
        raise HipercowError(f"{len(matches)} task ids start with '{text}'; give more characters")

    # ---- commands ---------------------------------------------------------------------
    def _cmd_init(self, args):
        extra = _options(args.option)
        if args.cluster:
            extra["cluster"] = args.cluster
        api.hipercow_init(args.path, driver=args.driver, **extra)

    def _cmd_configure(self, args):
        api.hipercow_configure(args.driver, **_options(args.option))

    def _cmd_unconfigure(self, args):
        api.hipercow_unconfigure(args.driver)

    def _cmd_configuration(self, args):
        api.hipercow_configuration()

    def _cmd_hello(self, args):
        return api.hipercow_hello(driver=args.driver)

    def _cmd_provision(self, args):
        provision_command(args)

    def _cmd_environment(self, args):
        environment_command(args)

    def _cmd_status(self, args):
        if args.ids:
            for text in args.ids:
                handle = self._handle(text)
                if isinstance(handle, Bundle):
                    print(f"{handle.name}  {handle.status(reduce=True)}")
                else:
                    print(f"{handle.id}  {handle.status()}")
            return
        ids = api.task_list()
        counts: dict[str, int] = {}
        for status in api.task_status(ids):
            counts[status] = counts.get(status, 0) + 1
        total = len(ids)
        detail = ", ".join(f"{n} {s}" for s, n in counts.items())
        print(f"{total} task{'s' if total != 1 else ''}" + (f": {detail}" if detail else ""))

    def _cmd_list(self, args):
        ids = api.task_list(with_status=args.status or None, in_bundle=args.bundle)
        shown = ids if args.n <= 0 else ids[: args.n]
        table = task_table(api.task_summaries(shown), len(ids), api.hipercow_root().path)
        if self.widgets_enabled():
            root = api.hipercow_root()
            show(
                task_list_widget(
                    table,
                    shown,
                    root,
                    lambda task_id: self._show_task(
                        TaskModel(task_id, root, self.delivery, next_sequence(), export=False)
                    ),
                )
            )
        else:
            print(table)

    def _cmd_show(self, args):
        handle = self._handle(args.id)
        if isinstance(handle, Bundle):
            self._show_bundle(BulkModel(handle, handle.root))
        else:
            self._show_task(
                TaskModel(
                    handle.id, handle.root, self.delivery, next_sequence(), export=args.export
                )
            )

    def _cmd_info(self, args):
        print(api.task_info(self._task_id(args.id)))

    def _cmd_result(self, args):
        handle = self._handle(args.id)
        value = handle.result()
        if args.export and isinstance(handle, api.Task):
            names = self.delivery.deliver_now(next_sequence(), handle.exports())
            print(f"✔ Set {', '.join(names)}" if names else "ℹ The task assigned no variables")
        if args.out:
            if not _IDENTIFIER.match(args.out):
                raise HipercowError(f"-o/--out needs a variable name, not '{args.out}'")
            self.shell.user_ns[args.out] = value
            return None
        return value

    def _cmd_log(self, args):
        task_id = self._task_id(args.id)
        if args.follow:
            api.task_log_watch(task_id)
        else:
            api.task_log_show(task_id, outer=args.outer)

    def _cmd_wait(self, args):
        handle = self._handle(args.id)
        try:
            return handle.wait(timeout=args.timeout)
        except KeyboardInterrupt:
            print("ℹ Stopped waiting; the task carries on")
            return None

    def _cmd_cancel(self, args):
        ids = [self._task_id(i) for i in args.ids]
        api.task_cancel(ids if len(ids) > 1 else ids[0])

    def _cmd_submit(self, args):
        ids = [self._task_id(i) for i in args.ids]
        api.task_submit(ids, driver=args.driver)
        for model in list(self.models):
            if model.id in ids:
                self.updater.watch(model)

    def _cmd_retry(self, args):
        ids = [self._task_id(i) for i in args.ids]
        handles = api.task_retry(ids)
        for old, new in zip(ids, handles):
            print(f"✔ Retrying '{old}' as '{new.id}'")
            for model in list(self.models):
                if model.id == old:
                    model.follow(new.id)
                    self._awaiting.append(model)
                    self.updater.watch(model)
        return handles[0] if len(handles) == 1 else handles

    def _cmd_purge(self, args):
        return api.hipercow_purge(
            task_ids=[self._task_id(i) for i in args.ids] or None,
            finished_before=args.finished_before,
            in_bundle=args.bundle,
            with_status=args.status or None,
            dry_run=args.dry_run,
        )
