"""A plain task's runner loads only what runs it. Every Slurm task starts a fresh interpreter
with `python -m hipercow_magic.runner ROOT ID`: a task without an environment installation or a
parallel method, whether it succeeds or fails, loads no code analysis or fingerprints, no
provisioning code and no traceback colouring; each of them loads when a task needs it, and the
public names of `hipercow_magic.core.capture` resolve as before. What the runner loaded is left
out of the collector's passes, but a task's own objects are collected and its files written.
"""

import json
import os
import subprocess
import sys

from test_lean_runner import fresh_env, heavy

import hipercow_magic as hc
from hipercow_magic.core import capture

# what a plain task's process never needs
NOT_FOR_A_PLAIN_TASK = (
    "hipercow_magic.core.capture.analysis",  # what code reads and assigns (at creation)
    "hipercow_magic.core.capture.fingerprint",  # reusing a task with the same inputs
    "hipercow_magic.core.capture.imports",
    "hipercow_magic.node.provision",  # an environment's installation
    "hipercow_magic.node.cluster",  # a parallel method's workers
    "subprocess",  # building an installation, starting workers
    "html",  # tracebacks for notebooks
    "sysconfig",  # the frames of an error a pool worker sent back
)


def run_by_runner(root, task) -> tuple[list[str], str]:
    """Run `task` as a batch job does, in a fresh interpreter: the modules it ended with,
    and its log (what it wrote).
    """
    code = (
        "import json, sys\n"
        "from hipercow_magic.runner import main\n"
        "code = main(sys.argv[1:3])\n"
        "with open(sys.argv[3], 'w') as f:\n"
        "    json.dump(sorted(sys.modules), f)\n"
        "sys.exit(code)\n"
    )
    out = root.task_file(task.id, "modules.json")
    proc = subprocess.run(
        [sys.executable, "-u", "-c", code, root.path, task.id, out],
        env=fresh_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,  # one log, in order, as a batch script writes it
        text=True,
        timeout=120,
        check=False,
    )
    with open(out) as f:
        return json.load(f), proc.stdout


def loaded(modules: list[str], names=NOT_FOR_A_PLAIN_TASK) -> list[str]:
    """The modules of `names` that are in `modules`."""
    return [name for name in names if name in modules]


def test_importing_the_runner_loads_neither_analysis_nor_provisioning():
    proc = subprocess.run(
        [
            sys.executable,
            "-c",
            "import json, sys, hipercow_magic.runner\nprint(json.dumps(sorted(sys.modules)))",
        ],
        env=fresh_env(),
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    modules = json.loads(proc.stdout.splitlines()[-1])
    assert "hipercow_magic.node.runner" in modules
    assert loaded(modules, (*NOT_FOR_A_PLAIN_TASK, "hipercow_magic.core.tracebacks")) == []
    assert heavy(modules) == []


def test_a_plain_task_with_inputs_loads_only_what_it_needs(bare_root):
    def double(x):
        return 2 * x

    values = {"numbers": [1, 2, 3]}
    task = hc.task_create_expr(
        "[double(x) for x in numbers]", driver=False, namespace={"double": double, **values}
    )
    modules, _ = run_by_runner(bare_root, task)
    assert hc.task_status(task.id) == "success"
    assert hc.task_result(task.id) == [2, 4, 6]
    assert "hipercow_magic.core.capture.pickling" in modules  # its inputs were read
    assert loaded(modules, (*NOT_FOR_A_PLAIN_TASK, "hipercow_magic.core.tracebacks")) == []
    assert heavy(modules) == []


def test_a_failing_task_keeps_its_traceback_without_loading_more(bare_root):
    task = hc.task_create_expr(
        "def inner():\n    raise ValueError('bad value')\n\ninner()", driver=False
    )
    modules, log = run_by_runner(bare_root, task)
    assert hc.task_status(task.id) == "failure"
    assert "hipercow_magic.core.tracebacks" in modules
    assert loaded(modules) == []
    trace = log.split("task logs ↓")[1].split("task logs ↑")[0]  # the task's own output
    assert "Traceback (most recent call last):" in trace
    assert "in inner" in trace
    assert "ValueError: bad value" in trace
    assert "hipercow_magic" not in trace  # only the task's frames


def test_a_task_s_objects_are_collected_and_its_open_files_written(bare_root):
    task = hc.task_create_expr(
        "import gc\n"
        "left = open('left.txt', 'w')\n"
        "left.write('left open')\n"
        "ended = []\n"
        "class Node:\n"
        "    def __del__(self):\n"
        "        ended.append(1)\n"
        "for _ in range(3):\n"
        "    node = Node()\n"
        "    node.itself = node  # a cycle: only the collector frees it\n"
        "del node\n"
        "gc.collect()\n"
        "len(ended)",
        driver=False,
    )
    run_by_runner(bare_root, task)
    assert hc.task_result(task.id) == 3
    with open(os.path.join(os.path.dirname(bare_root.hipercow), "left.txt")) as f:
        assert f.read() == "left open"


def test_capture_names_resolve_to_their_modules():
    from hipercow_magic.core.capture import analysis, fingerprint, pickling, sources

    homes = {
        analysis: ("CodeAnalysis", "analyse_code", "parse_code"),
        fingerprint: ("Fingerprint", "code_digest", "digest"),
        pickling: ("buffer_spans", "dumps", "pack", "pickle_values", "unpack_locals"),
        sources: ("dumps_with_sources", "loads_with_sources", "register_code"),
    }
    found = {
        name: getattr(capture, name) is getattr(m, name) for m, ns in homes.items() for name in ns
    }
    assert sorted(found) == sorted(capture.__all__)
    assert [name for name, same in found.items() if not same] == []
    assert set(capture.__all__) <= set(dir(capture))


def test_an_unknown_capture_name_is_an_attribute_error():
    try:
        capture.no_such_name  # noqa: B018
    except AttributeError as e:
        assert "no_such_name" in str(e)
    else:
        raise AssertionError("capture.no_such_name did not raise AttributeError")
