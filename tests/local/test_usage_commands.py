"""What tasks used, from the command line and the magics: `hipercow task info` says it,
`hipercow task suggest ID|BUNDLE` and `%hipercow suggest ID|BUNDLE` propose a request;
real tasks on the local driver's example cluster.
"""

from __future__ import annotations

import pytest
from processes import magic_shell, run_cli, wait_until

import hipercow_magic as hc
from hipercow_magic.api.suggest import Suggestion

HOLDS = "block = bytearray(size)\nimport time\ntime.sleep(1)\ndel block"


def hipercow(*args, cwd):
    out = run_cli(*args, cwd=cwd)
    assert out.returncode == 0, out.stderr
    return out.stdout


def measured(bundle) -> None:
    """Wait until every task of the bundle has ended with its final figures."""
    assert bundle.wait(timeout=120)
    wait_until(lambda: all((u := hc.task_usage(i)) and not u.running for i in bundle.ids), 30)


@pytest.fixture
def sized(example_root):
    """Two tasks that asked for 4 cores and 2 GB and hold 100 and 200 MB, measured."""
    rows = [{"size": 100_000_000}, {"size": 200_000_000}]
    resources = hc.hipercow_resources(cores=4, memory_per_node=2)
    bundle = hc.task_create_bulk_expr(HOLDS, rows, resources=resources, bundle_name="sized")
    measured(bundle)
    return bundle


def test_task_info_and_suggest_on_the_command_line(sized, example_root):
    info = hipercow("task", "info", sized.ids[1], cwd=example_root.path)
    assert "ℹ Usage: used 0." in info and "of 4 cores on average (" in info
    assert "peak " in info and " of 2 GB (" in info
    out = hipercow("task", "suggest", "sized", sized.ids[0][:8], cwd=example_root.path)
    assert "Suggested resources for bundle 'sized': 1 core, queue alltasks, " in out
    assert f"Suggested resources for task {sized.ids[0][:8]}: 1 core" in out
    assert "it asked for 4 cores, queue alltasks, 2GB/node" in out
    assert "as options: --cores 1 --memory-per-node 0." in out


@pytest.fixture
def shell(ip, example_root, capsys):
    yield from magic_shell(ip, capsys, "auto")


def test_suggest_in_a_notebook_by_bundle_name_task_or_variable(shell, capsys):
    rows = [{"size": 100_000_000}, {"size": 200_000_000}]
    resources = hc.hipercow_resources(cores=4, memory_per_node=2)
    bundle = hc.task_create_bulk_expr(HOLDS, rows, resources=resources, bundle_name="sized")
    measured(bundle)
    shell.user_ns["sweep"] = bundle
    by_name = shell.run_line_magic("hipercow", "suggest sized")
    by_variable = shell.run_line_magic("hipercow", "suggest sweep")
    by_task = shell.run_line_magic("hipercow", f"suggest {bundle.ids[0][:6]}")
    assert isinstance(by_name, Suggestion) and by_name.resources.cores == 1
    assert by_variable.resources == by_name.resources
    assert by_task.subject == f"task {bundle.ids[0][:8]}"
    assert str(by_name).startswith("Suggested resources for bundle 'sized': 1 core")
