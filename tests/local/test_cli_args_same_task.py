"""The same flags, typed at the `hipercow` command and on a `%%hipercow` line, make the same
task: the CLI runs as a real process, the magic in a real IPython shell, both in one root."""

from __future__ import annotations

import shlex

import pytest
from processes import magic_shell
from test_cli import hipercow

import hipercow_magic as hc

FLAGS = [
    "--cores 4 --parallel future --cores-per-process 2 --max-runtime 1h30 --priority low",
    "--hold-until 2030-01-31T18:00 --memory-per-node 2G --memory-per-process 1G --queue bigmem",
    "--hold-until 2030-01-31 --nodes gpu-3,gpu-4 --exclusive",
    "--cores Inf --hold-until 90 --environment default --driver local",
    "--envvar GREETING='hello there' --envvar A=1 --name 'same run'",
]


@pytest.fixture
def shell(ip, example_root, capsys):
    yield from magic_shell(ip, capsys, "text")


@pytest.mark.parametrize("flags", FLAGS)
def test_cli_and_magic_make_the_same_task(shell, example_root, flags):
    made = hipercow("create", "value = 1", *shlex.split(flags), cwd=example_root.path)
    assert made.returncode == 0, made.stderr
    from_cli = hc.task_info(made.stdout.strip()).data
    result = shell.run_cell(f"%%hipercow {flags} -o h\nvalue = 1")
    assert result.error_in_exec is None, result.error_in_exec
    from_magic = hc.task_info(shell.user_ns["h"].id).data
    for field in ("resources", "parallel", "envvars", "environment", "name", "driver"):
        assert from_cli.get(field) == from_magic.get(field), field
    assert from_cli.get("resources") or from_cli.get("envvars")
