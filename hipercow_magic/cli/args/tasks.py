"""The options of a new task (`hipercow create`, `%%hipercow`) and their converters, and the
commands on existing tasks (`hipercow task COMMAND`, `%hipercow COMMAND`).
"""

from __future__ import annotations

import argparse
import datetime as dt
import re

from hipercow_magic.api import hipercow_envvars, hipercow_parallel, hipercow_resources
from hipercow_magic.cli.args.common import command
from hipercow_magic.core.errors import HipercowError
from hipercow_magic.core.retry_policy import parse_retry_option
from hipercow_magic.core.status import STATUSES

PRIORITIES = ("low", "normal")
PARALLEL_METHODS = ("parallel", "future")
LIST_LIMIT = 50


# ---- converters -------------------------------------------------------------------------
def parse_hold_until(text: str | None):
    """`--hold-until` as `hipercow_resources` takes it: a date or date-time for text like
    2030-01-31 or 2030-01-31T18:00, otherwise the text (minutes, 5h, tonight, ...).
    """
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


def parse_cores(text: str | None):
    """`--cores` as `hipercow_resources` takes it: a whole number as an int, anything else
    (Inf, or a mistake that `hipercow_resources` explains) as given.
    """
    if isinstance(text, str) and re.fullmatch(r"\s*\d+\s*", text):
        return int(text)
    return text


def positive_whole_number(text: str) -> int:
    """An argparse `type`: a positive int, or an error naming the value."""
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive whole number, not '{text}'")
    return value


# ---- the options of a new task (`hipercow create`, `%%hipercow`) -------------------------
def add_task_options(parser: argparse.ArgumentParser) -> None:
    """Declare what a new task needs and how it runs: resources, parallel workers,
    environment, environment variables, driver and name.
    """
    needs = parser.add_argument_group("what the task needs")
    needs.add_argument("--cores", metavar="N|Inf", help="cores for the task (an integer or Inf)")
    needs.add_argument("--exclusive", action="store_true", help="a whole node to the task")
    needs.add_argument("--max-runtime", metavar="TIME", help="time limit: minutes, or e.g. 2h30m")
    needs.add_argument(
        "--hold-until",
        metavar="WHEN",
        help="start no earlier than: minutes, 5h, tonight, midnight, weekend, or a date "
        "(2030-01-31) or date and time (2030-01-31T18:00)",
    )
    needs.add_argument("--memory-per-node", metavar="SIZE", help="memory the node needs, e.g. 8G")
    needs.add_argument("--memory-per-process", metavar="SIZE", help="memory the task uses, e.g. 2G")
    needs.add_argument("--nodes", metavar="A,B", help="run only on these nodes")
    needs.add_argument("--priority", choices=PRIORITIES, help="scheduling priority")
    needs.add_argument("--queue", metavar="NAME", help="queue (partition) to use")
    needs.add_argument("--gpus", metavar="N", help="GPUs for the task (a whole number)")
    needs.add_argument("--gpu-type", metavar="TYPE", help="the kind of GPU, e.g. a100")
    runs = parser.add_argument_group("how it runs")
    runs.add_argument(
        "--parallel",
        choices=PARALLEL_METHODS,
        help="start workers on the task's cores: hipercow_magic.pool() / executor()",
    )
    runs.add_argument(
        "--cores-per-process",
        type=positive_whole_number,
        metavar="N",
        help="cores for each parallel worker",
    )
    runs.add_argument(
        "--environment",
        metavar="NAME",
        default="default",
        help="environment to run in (see 'environment list')",
    )
    runs.add_argument(
        "--envvar",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="environment variable for the task (repeatable)",
    )
    runs.add_argument("--driver", metavar="NAME", help="driver to submit with")
    runs.add_argument(
        "--after",
        action="append",
        default=[],
        metavar="ID",
        help="start only once these tasks succeed: task ids or their first 4+ characters "
        "(in a notebook, also variables holding tasks or bundles); repeatable, or A,B",
    )
    runs.add_argument(
        "--name", metavar="NAME", help="a name for the task (or for the bundle of a bulk run)"
    )
    runs.add_argument(
        "--retry",
        metavar="CLASSES",
        help="retry automatically after these failures, growing the request: "
        "out_of_memory (memory x 1.5), timeout (max runtime x 2), node_failure, error (a "
        "Python exception), separated by commas; 'default' for the first three; 'none' "
        "for no retries whatever the default (HIPERCOW_RETRY)",
    )
    runs.add_argument(
        "--retry-attempts",
        type=positive_whole_number,
        metavar="N",
        help="with --retry: the most attempts in all, the first included (default 3)",
    )


def task_resources(args: argparse.Namespace):
    """The `Resources` the parsed flags ask for, or None when no resource flag was given."""
    fields = {
        "cores": parse_cores(args.cores),
        "exclusive": args.exclusive or None,
        "max_runtime": args.max_runtime,
        "hold_until": parse_hold_until(args.hold_until),
        "memory_per_node": args.memory_per_node,
        "memory_per_process": args.memory_per_process,
        "requested_nodes": args.nodes,
        "priority": args.priority,
        "queue": args.queue,
        "gpus": args.gpus,
        "gpu_type": args.gpu_type,
    }
    given = {k: v for k, v in fields.items() if v is not None}
    return hipercow_resources(**given) if given else None


def task_parallel(args: argparse.Namespace):
    """The `Parallel` spec of `--parallel` / `--cores-per-process`, or None."""
    if args.parallel is None and args.cores_per_process is None:
        return None
    return hipercow_parallel(args.parallel, cores_per_process=args.cores_per_process or 1)


def task_envvars(args: argparse.Namespace):
    """The `EnvVars` of the `--envvar` flags, or None."""
    return hipercow_envvars(*args.envvar) if args.envvar else None


def task_options(args: argparse.Namespace, default_driver: str | None = None) -> dict:
    """The keyword arguments of the api's `task_create_*` functions for the parsed flags.

    Args:
        args: arguments parsed by a parser given `add_task_options`.
        default_driver: the driver when `--driver` is not given.

    Returns:
        `environment`, `driver`, `resources`, `parallel`, `envvars`, `depends_on` (the
        words of `--after`, split at commas) and `retry` (the policy of `--retry`; None
        for the default); the name is left to the caller: a task's `name` or a bundle's
        `bundle_name`.
    """
    return dict(
        environment=args.environment,
        driver=args.driver or default_driver,
        resources=task_resources(args),
        parallel=task_parallel(args),
        envvars=task_envvars(args),
        depends_on=after_words(args.after),
        retry=parse_retry_option(args.retry, args.retry_attempts),
    )


def after_words(values: list[str]) -> list[str]:
    """The words of `--after` options: each option may name several, separated by commas."""
    return [word.strip() for value in values for word in value.split(",") if word.strip()]


# ---- commands on tasks ----------------------------------------------------------------
TASK_COMMANDS = {
    "status": "status of tasks (or counts for the whole root)",
    "info": "everything known about a task",
    "result": "a task's value",
    "log": "a task's log",
    "wait": "wait for tasks to finish",
    "cancel": "cancel tasks",
    "retry": "run finished tasks again",
    "submit": "submit tasks created while no driver was configured",
    "why": "why a task was (or was not) reused: what changed since the same cell last ran",
    "suggest": "a resource request from what tasks used: task ids or bundle names",
    "list": "the root's tasks, newest first",
}


def add_task_commands(subparsers, ids_help: str) -> dict[str, argparse.ArgumentParser]:
    """Register the commands on tasks: status, info, result, log, wait, cancel, retry,
    submit and list (`hipercow task COMMAND`, `%hipercow COMMAND`).

    Args:
        subparsers: where to register them.
        ids_help: the help of the `ID` arguments (what the front end accepts as an id).

    Returns:
        The parser of each command, by name.
    """
    parsers = {}
    for name, help in TASK_COMMANDS.items():
        p = parsers[name] = command(subparsers, name, help)
        if name != "list":
            p.add_argument("ids", nargs="*", metavar="ID", help=ids_help)
    p = parsers["log"]
    p.add_argument("--follow", action="store_true", help="print it as it grows, until the end")
    p.add_argument("--outer", action="store_true", help="the scheduler's own log")
    parsers["wait"].add_argument(
        "--timeout", type=float, metavar="S", help="give up after this many seconds"
    )
    parsers["submit"].add_argument("--driver", metavar="NAME", help="driver to submit with")
    p = parsers["list"]
    p.add_argument(
        "--status",
        action="append",
        default=[],
        choices=STATUSES,
        help="only tasks with this status (repeatable)",
    )
    p.add_argument("--bundle", metavar="GLOB", help="only tasks in bundles matching this glob")
    p.add_argument(
        "-n",
        type=int,
        default=LIST_LIMIT,
        metavar="N",
        help=f"show at most N tasks (default {LIST_LIMIT}; 0: all)",
    )
    return parsers
