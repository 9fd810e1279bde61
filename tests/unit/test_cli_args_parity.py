"""The `hipercow` command and the magics take the same options: every option of every command
is found, declared the same way, in the other front end; and the same flags make the same
Resources, Parallel and EnvVars."""

from __future__ import annotations

import argparse
import contextlib
import io
import shlex

import pytest
from IPython.core.error import UsageError

from hipercow_magic.cli import parser as cli_parser
from hipercow_magic.cli.args import task_envvars, task_parallel, task_resources
from hipercow_magic.magics.parsers import cell_parser, line_parser

# What one front end has and the other, by design, does not.
CLI_ONLY_COMMANDS = {"cluster-info", "bundle"}  # the notebook: %hipercow_info; bundle handles
MAGIC_ONLY_COMMANDS = {"help", "show"}  # a notebook's live displays
MAGIC_ONLY_OPTIONS = {("result", "--out"), ("result", "--export")}  # the notebook's namespace
CLI_ONLY_OPTIONS = {("list", "--ids")}  # for shell scripts; a notebook has task_list()
CELL_ONLY_OPTIONS = {"--bulk", "--wait", "--out", "--no-export", "--rerun"}
CREATE_ONLY_OPTIONS = {"code", "--script", "--chdir"}  # the cell is the code
COMPARED = ("dest", "help", "type", "choices", "default", "nargs", "metavar", "const")


def commands(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return dict(action.choices)
    return {}


def options(parser: argparse.ArgumentParser) -> dict[str, argparse.Action]:
    """A parser's arguments by their longest spelling (or dest, for positionals)."""
    out = {}
    for action in parser._actions:
        if isinstance(action, (argparse._HelpAction, argparse._SubParsersAction)):
            continue
        key = max(action.option_strings, key=len) if action.option_strings else action.dest
        out[key] = action
    return out


def cli_commands() -> dict[str, argparse.ArgumentParser]:
    """The CLI's commands as the magic names them (`task status` is `status`); `create` is
    the cell magic's.
    """
    top = commands(cli_parser())
    skip = ("task", "create", *CLI_ONLY_COMMANDS)
    out = {name: p for name, p in top.items() if name not in skip}
    out.update(commands(top["task"]))
    return out


def check_same(where: str, key: str, one: argparse.Action, other: argparse.Action) -> None:
    assert type(one) is type(other), f"{where} {key}: {type(one)} vs {type(other)}"
    for field in COMPARED:
        if key == "ids" and field == "help":  # what an id may be differs: see below
            continue
        assert getattr(one, field) == getattr(other, field), f"{where} {key}: {field} differs"


def test_every_cli_command_and_option_is_in_the_magic():
    magic = commands(line_parser())
    cli = cli_commands()
    assert set(cli) == set(magic) - MAGIC_ONLY_COMMANDS
    for name, parser in cli.items():
        theirs = options(magic[name])
        for key, action in options(parser).items():
            if (name, key) in CLI_ONLY_OPTIONS:
                continue
            assert key in theirs, f"'hipercow {name} {key}' is not in '%hipercow {name}'"
            check_same(name, key, action, theirs[key])
        assert parser.description == magic[name].description


def test_every_magic_command_and_option_is_in_the_cli():
    cli = cli_commands()
    for name, parser in commands(line_parser()).items():
        if name in MAGIC_ONLY_COMMANDS:
            continue
        theirs = options(cli[name])
        for key, action in options(parser).items():
            if (name, key) in MAGIC_ONLY_OPTIONS:
                continue
            assert key in theirs, f"'%hipercow {name} {key}' is not in 'hipercow {name}'"
            check_same(name, key, action, theirs[key])


def test_cell_options_are_the_options_of_create():
    create = options(commands(cli_parser())["create"])
    cell = options(cell_parser())
    assert set(cell) - CELL_ONLY_OPTIONS == set(create) - CREATE_ONLY_OPTIONS
    for key in set(cell) - CELL_ONLY_OPTIONS:
        check_same("create", key, create[key], cell[key])


def test_every_argument_has_help():
    parsers = [cli_parser(), line_parser(), cell_parser()]
    seen = 0
    while parsers:
        parser = parsers.pop()
        parsers += commands(parser).values()
        for key, action in options(parser).items():
            assert action.help, f"{parser.prog} {key} has no help"
            seen += 1
    assert seen > 100


def test_ids_say_what_each_front_end_accepts():
    cli = options(commands(commands(cli_parser())["task"])["status"])["ids"].help
    magic = options(commands(line_parser())["status"])["ids"].help
    assert "first 4 or more characters" in cli and "first 4 or more characters" in magic
    assert "variables holding handles" in magic and "bundle names" in magic


FLAGS = [
    ["--cores", "4", "--exclusive", "--max-runtime", "1h30", "--priority", "low"],
    ["--cores", "Inf", "--hold-until", "2030-01-31T18:00", "--queue", "bigmem"],
    ["--hold-until", "2030-01-31", "--memory-per-node", "8G", "--memory-per-process", "2G"],
    ["--hold-until", "tonight", "--nodes", "gpu-3,gpu-4"],
    ["--hold-until", "90"],
    ["--cores", "4", "--parallel", "future", "--cores-per-process", "2"],
    ["--cores-per-process", "3"],
    ["--envvar", "A=1", "--envvar", "B=x y", "--environment", "greet", "--driver", "local"],
    ["--name", "my run"],
    [],
]


def both(words: list[str]) -> tuple[argparse.Namespace, argparse.Namespace]:
    """The same flags through `hipercow create` and through a `%%hipercow` line."""
    cli = cli_parser().parse_args(["create", "1", *words])
    magic = cell_parser().parse_argstring(shlex.join(words))
    return cli, magic


@pytest.mark.parametrize("words", FLAGS, ids=lambda w: " ".join(w) or "none")
def test_the_same_flags_make_the_same_task_options(words):
    cli, magic = both(words)
    assert task_resources(cli) == task_resources(magic)
    assert task_parallel(cli) == task_parallel(magic)
    cli_env, magic_env = task_envvars(cli), task_envvars(magic)
    assert (cli_env and cli_env.items) == (magic_env and magic_env.items)
    for field in ("environment", "driver", "name"):
        assert getattr(cli, field) == getattr(magic, field)


def test_dates_and_quoted_words_arrive_whole():
    cli, magic = both(["--hold-until", "2030-01-31T18:00", "--name", "my run", "--envvar", "A=x y"])
    assert str(task_resources(magic).hold_until) == "2030-01-31 18:00:00"
    assert magic.name == cli.name == "my run"
    assert [(v.name, v.value) for v in task_envvars(magic).items] == [("A", "x y")]
    typed = cell_parser().parse_argstring("--name \"my run\" --envvar A='x y'")
    assert typed.name == "my run" and typed.envvar == ["A=x y"]


@pytest.mark.parametrize(
    "words, message",
    [
        (["--cores-per-process", "0"], "expected a positive whole number, not '0'"),
        (["--priority", "urgent"], "invalid choice: 'urgent'"),
        (["--parallel", "threads"], "invalid choice: 'threads'"),
    ],
)
def test_bad_values_are_refused_alike(words, message):
    stderr = io.StringIO()
    with pytest.raises(SystemExit), contextlib.redirect_stderr(stderr):
        cli_parser().parse_args(["create", "1", *words])
    assert message in stderr.getvalue()
    with pytest.raises(UsageError, match=message):
        cell_parser().parse_argstring(shlex.join(words))


def test_configure_takes_options_both_ways_in_both_front_ends():
    from hipercow_magic.cli.args import configure_options

    line = "configure local cluster=example --option idle_timeout=60"
    cli = cli_parser().parse_args(shlex.split(line))
    magic = line_parser().parse_argstring(line)
    assert configure_options(cli) == configure_options(magic)
    assert configure_options(cli) == {"cluster": "example", "idle_timeout": 60}
