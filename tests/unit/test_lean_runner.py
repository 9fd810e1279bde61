"""A task's process loads only what runs it. On a cluster node every task starts a fresh
interpreter with `python -m hipercow_magic.runner ROOT ID`; the package's public names load on
first use, so neither the runner nor a task touching `hipercow_magic` loads the api, the drivers,
the front ends or Jupyter's libraries, while `import hipercow_magic as hc; hc.X`,
`from hipercow_magic import X` and `__all__` work as before.
"""

import json
import os
import subprocess
import sys

import pytest

import hipercow_magic as hc

HEAVY = (
    "hipercow_magic.api",
    "hipercow_magic.engine",
    "hipercow_magic.drivers",
    "hipercow_magic.widgets",
    "hipercow_magic.server",
    "hipercow_magic.magics",
    "hipercow_magic.cli",
    "IPython",
    "traitlets",
    "tornado",
    "ipywidgets",
)
PACKAGE_PARENT = os.path.dirname(os.path.dirname(hc.__file__))


def fresh_env() -> dict:
    """The environment of a fresh interpreter importing the package under test."""
    path = [PACKAGE_PARENT, os.environ.get("PYTHONPATH", "")]
    return {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in path if p)}


def in_fresh_python(code: str):
    """What `code`, run in a fresh interpreter, prints as JSON on its last line."""
    out = subprocess.run(
        [sys.executable, "-c", code],
        env=fresh_env(),
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    return json.loads(out.stdout.splitlines()[-1])


def heavy(modules) -> list[str]:
    """The modules of `modules` that a task's process should not load."""
    return sorted(m for m in modules if any(m == h or m.startswith(h + ".") for h in HEAVY))


def test_heavy_finds_what_it_should():
    assert heavy(["hipercow_magic.api.tasks", "IPython.core", "traitlets", "json"]) == [
        "IPython.core",
        "hipercow_magic.api.tasks",
        "traitlets",
    ]
    assert heavy(["hipercow_magic.apis", "hipercow_magic.node.runner", "tornadoes"]) == []


def test_importing_the_runner_loads_no_api_driver_or_front_end():
    loaded = in_fresh_python(
        "import json, sys, hipercow_magic.runner\nprint(json.dumps(sorted(sys.modules)))"
    )
    assert "hipercow_magic.node.runner" in loaded
    assert heavy(loaded) == []
    assert "hipercow_magic.node.cluster" not in loaded  # only a task with a parallel method
    assert "psutil" not in loaded  # process trees are the scheduler's and the pool's concern


def test_names_a_task_uses_load_without_the_api():
    loaded = in_fresh_python(
        "import json, sys, hipercow_magic as hc\n"
        "assert callable(hc.pool) and callable(hc.executor)\n"
        "hc.hipercow_parallel_set_cores(3)\n"
        "assert hc.hipercow_parallel_get_cores() == 3\n"
        "assert hc.__version__\n"
        "print(json.dumps(sorted(sys.modules)))"
    )
    assert "hipercow_magic.node.pool" in loaded
    assert heavy(loaded) == []


def test_importing_a_lower_layer_from_the_package_loads_no_api():
    loaded = in_fresh_python(
        "import json, sys\n"
        "from hipercow_magic import core, node\n"
        "from hipercow_magic.core import store\n"
        "print(json.dumps(sorted(sys.modules)))"
    )
    assert "hipercow_magic.core.store" in loaded
    assert heavy(loaded) == []


def test_every_public_name_resolves_on_first_use():
    found = in_fresh_python(
        "import json, sys, hipercow_magic as hc\n"
        "before = 'hipercow_magic.api' in sys.modules\n"
        "from hipercow_magic import task_create_expr\n"
        "from hipercow_magic import api\n"
        "from hipercow_magic.node import cores, pool\n"
        "places = {**vars(hc), **vars(api), **vars(cores), **vars(pool)}\n"
        "same = {n: getattr(hc, n) is places[n] for n in hc.__all__}\n"
        "print(json.dumps([before, task_create_expr is api.task_create_expr, same]))"
    )
    before, same_function, same = found
    assert before is False
    assert same_function is True
    assert sorted(same) == sorted(hc.__all__)
    assert [name for name, ok in same.items() if not ok] == []


def test_star_import_gives_every_public_name():
    names = in_fresh_python(
        "import json\nfrom hipercow_magic import *\n"
        "print(json.dumps(sorted(n for n in dir() if not n.startswith('__') or n == '__version__')))"
    )
    assert sorted(hc.__all__) == sorted(n for n in names if n != "json")


def test_dir_lists_the_public_names_before_they_are_loaded():
    listed = in_fresh_python(
        "import json, hipercow_magic as hc\n"
        "loaded = sorted(vars(hc))\n"
        "print(json.dumps([loaded, dir(hc)]))"
    )
    loaded, names = listed
    assert "task_create_expr" not in loaded
    assert set(hc.__all__) <= set(names)


def test_an_unknown_name_is_an_attribute_error():
    assert not hasattr(hc, "task_exists")  # internal to the api, not public
    with pytest.raises(AttributeError, match="no_such_name"):
        hc.no_such_name  # noqa: B018


def test_a_task_run_by_the_runner_entry_loads_only_what_it_needs(bare_root):
    task = hc.task_create_expr(
        "import os, sys\n"
        "(sorted(sys.modules), hipercow_magic.hipercow_parallel_get_cores(), os.environ['OMP_NUM_THREADS'])",
        driver=False,
    )
    run = subprocess.run(
        [sys.executable, "-m", "hipercow_magic.runner", bare_root.path, task.id],
        env={**fresh_env(), "HIPERCOW_CORES": "2"},  # as a batch script sets it
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert run.returncode == 0, run.stdout + run.stderr
    assert hc.task_status(task.id) == "success"
    modules, cores, threads = hc.task_result(task.id)
    assert "hipercow_magic.node.runner" in modules
    assert heavy(modules) == []
    assert (cores, threads) == (2, "2")
