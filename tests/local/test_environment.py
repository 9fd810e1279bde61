"""Environments: hipercow's rules and messages, and what a task sees on the node (local driver)."""

import json
import os

import pytest

import hipercow_magic as hc
from hipercow_magic.cli.args import environment_cli
from hipercow_magic.core.errors import HipercowError


def write(path, text):
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    with open(path, "w") as f:
        f.write(text)


# ---- rules and messages (no driver needed) ---------------------------------------------
def test_new_root_lists_default_and_empty(bare_root):
    assert hc.hipercow_environment_list() == ["default", "empty"]
    assert hc.hipercow_environment_exists("default")
    assert hc.hipercow_environment_exists("empty")
    assert not hc.hipercow_environment_exists("other")


def test_created_updated_unchanged_messages(bare_root, capsys):
    hc.hipercow_environment_create("foo", packages=["json"])
    assert "✔ Created environment 'foo'" in capsys.readouterr().out
    hc.hipercow_environment_create("foo", packages=["json"])
    assert "ℹ Environment 'foo' is unchanged" in capsys.readouterr().out
    hc.hipercow_environment_create("foo", packages=["json", "math"])
    assert "✔ Updated environment 'foo'" in capsys.readouterr().out
    with pytest.raises(
        HipercowError, match="Environment 'foo' already exists and 'overwrite' is False"
    ):
        hc.hipercow_environment_create("foo", packages=["os"], overwrite=False)
    hc.hipercow_environment_create("foo", packages=["json", "math"], overwrite=False)
    assert "is unchanged" in capsys.readouterr().out
    assert hc.hipercow_environment_list() == ["default", "empty", "foo"]
    with open("hipercow/environments/foo.json") as f:
        saved = json.load(f)
    assert saved == {"name": "foo", "packages": ["json", "math"], "sources": None, "globals": None}


def test_special_and_invalid_names(bare_root):
    with pytest.raises(HipercowError, match="Can't create environment with special name 'empty'"):
        hc.hipercow_environment_create("empty")
    for bad in ("../x", "a/b", "a b", "", "x.json"):
        with pytest.raises(HipercowError, match="Invalid environment name"):
            hc.hipercow_environment_create(bad)
    with pytest.raises(HipercowError, match="Can't delete environment with special name 'empty'"):
        hc.hipercow_environment_delete("empty")
    with pytest.raises(HipercowError, match="Can't delete the 'default' environment"):
        hc.hipercow_environment_delete("default")
    with pytest.raises(HipercowError, match="Environment 'nope' does not exist"):
        hc.hipercow_environment_delete("nope")


def test_delete(bare_root, capsys):
    hc.hipercow_environment_create("tmp")
    hc.hipercow_environment_delete("tmp")
    assert "✔ Deleted environment 'tmp'" in capsys.readouterr().out
    assert hc.hipercow_environment_list() == ["default", "empty"]


def test_sources_must_exist_and_be_files(bare_root):
    with pytest.raises(HipercowError) as e:
        hc.hipercow_environment_create(sources=["a.py", "b.py"])
    assert "Files in 'sources' not found: 'a.py', 'b.py'" in str(e.value)
    assert f"Looking relative to '{bare_root.path}'" in str(e.value)
    os.mkdir("src")
    with pytest.raises(HipercowError, match="is a directory, not a file: 'src'"):
        hc.hipercow_environment_create(sources=["src"])
    with pytest.raises(HipercowError, match="outside the hipercow root"):
        hc.hipercow_environment_create(sources=["../elsewhere.py"])


def test_sources_are_relative_to_the_root_not_the_working_directory(bare_root):
    write("code/funs.py", "x = 1\n")
    os.chdir("code")
    with pytest.raises(HipercowError, match="not found: 'funs.py'"):
        hc.hipercow_environment_create(sources=["funs.py"])
    hc.hipercow_environment_create(sources=["code/funs.py"])
    assert hc.hipercow_environment_show()["sources"] == ["code/funs.py"]


def test_syntax_error_in_a_source_is_refused_with_file_and_line(bare_root):
    write("good.py", "a = 1\n")
    write("bad.py", "def f(x):\n    return x +\n")
    with pytest.raises(HipercowError) as e:
        hc.hipercow_environment_create(sources=["good.py", "bad.py"])
    assert "Syntax error in source 'bad.py', line 2" in str(e.value)
    assert "return x +" in str(e.value)
    assert not os.path.exists("hipercow/environments/default.json")
    hc.hipercow_environment_create(sources=["good.py", "bad.py"], check=False)


def test_sources_installing_packages_are_refused(bare_root):
    write(
        "setup_env.py",
        "import subprocess, sys\n\n"
        "subprocess.run([sys.executable, '-m', 'pip', 'install', 'cowsay'])\n",
    )
    with pytest.raises(HipercowError, match="'pip install'.*'setup_env.py', line 3"):
        hc.hipercow_environment_create(sources=["setup_env.py"])
    write("shell.py", "import os\nos.system('pip install numpy')\n")
    with pytest.raises(HipercowError, match="line 2"):
        hc.hipercow_environment_create(sources=["shell.py"])
    write("fine.py", "print('pip is a tool; install things with it elsewhere')\n")
    hc.hipercow_environment_create(sources=["fine.py"])


def test_invalid_packages_and_globals(bare_root):
    with pytest.raises(HipercowError, match="Invalid package 'numpy as'"):
        hc.hipercow_environment_create(packages=["numpy as"])
    with pytest.raises(HipercowError, match="'packages' must be a string or a list"):
        hc.hipercow_environment_create(packages=[1])
    with pytest.raises(HipercowError, match="Invalid name in 'globals': 'a-b'"):
        hc.hipercow_environment_create(globals=["a-b"])


def test_globals_true_discovers_names_in_a_fresh_process(bare_root, capsys):
    write("one.py", "import math as _m\nK = 3\n\ndef scale(x):\n    return K * x\n")
    write("two.py", "DOUBLE_K = scale(2)\n__version__ = 'x'\n")
    env = hc.hipercow_environment_create(
        packages=["json"], sources=["one.py", "two.py"], globals=True
    )
    out = capsys.readouterr().out
    assert "clean Python process" in out and "✔ Found 4 symbols" in out
    assert env["globals"] == ["DOUBLE_K", "K", "_m", "scale"]


def test_globals_true_reports_a_source_that_fails(bare_root):
    write("broken.py", "x = 1\ny = undefined_name + 1\n")
    with pytest.raises(HipercowError) as e:
        hc.hipercow_environment_create(sources=["broken.py"], globals=True)
    assert "NameError: name 'undefined_name' is not defined (in broken.py, line 2)" in str(e.value)


def test_show_prints_hipercow_bullets(bare_root, capsys):
    write("funs.py", "A = 1\n")
    hc.hipercow_environment_create(
        "shown", packages=["json", "numpy as np"], sources="funs.py", globals=["A"]
    )
    capsys.readouterr()
    env = hc.hipercow_environment_show("shown")
    out = capsys.readouterr().out
    assert "── hipercow environment 'shown' ──" in out
    assert "• packages: json, numpy as np" in out
    assert "• sources: funs.py" in out
    assert "• globals: A" in out
    assert "• provisioned: (nothing" in out
    assert env["packages"] == ["json", "numpy as np"]
    hc.hipercow_environment_show("empty")
    assert "• packages: (none)" in capsys.readouterr().out
    with pytest.raises(
        HipercowError,
        match="Environment 'nope' does not exist\nValid options are: 'default', 'empty', 'shown'",
    ):
        hc.hipercow_environment_show("nope")


def test_globals_and_packages_are_not_captured(bare_root, capsys):
    write("funs.py", "def simulate(n):\n    return list(range(n))\n")
    hc.hipercow_environment_create(packages=["json"], sources=["funs.py"], globals=["simulate"])
    simulate = object()  # noqa: F841 -- an unpicklable stand-in that must not be captured
    task = hc.task_create_expr("json.dumps(simulate(3))")
    with open(os.path.join(bare_root.task_dir(task.id), "data.json")) as f:
        data = json.load(f)
    assert data["locals"] == [] and data["environment"] == "default"
    with pytest.raises(HipercowError, match="Could not find variable 'simulate'"):
        hc.task_create_expr("simulate(3)", environment="empty", namespace={})


def test_unknown_environment_is_an_error_at_creation(bare_root):
    with pytest.raises(HipercowError, match="Environment 'other' does not exist"):
        hc.task_create_expr("1", environment="other")


def test_command_line_form(bare_root, capsys):
    write("funs.py", "K = 2\n")
    environment_cli(
        ["create", "cli", "--packages", "json", "--sources", "funs.py", "--globals", "auto"]
    )
    assert "✔ Created environment 'cli'" in capsys.readouterr().out
    environment_cli(["list"])
    assert capsys.readouterr().out.split() == ["default", "empty", "cli"]
    environment_cli(["show", "cli"])
    assert "• globals: K" in capsys.readouterr().out
    assert environment_cli(["exists", "cli"]) is True
    environment_cli(["delete", "cli"])
    assert environment_cli(["exists", "cli"]) is False
    # a magic's argument splitting keeps quotes: they are dropped
    env = environment_cli(["create", "quoted", "--packages", '"numpy as np"', "'json'"])
    assert env["packages"] == ["numpy as np", "json"]


# ---- on the node (the local driver runs real tasks) ---------------------------------------
def test_packages_then_sources_reach_the_task_in_order(root):
    write("first.py", "import json as _json\nA = 10\n")
    write(
        "sub/second.py",
        "B = A + 1\nwith open('marker.txt') as f:\n    WHERE = f.read()\nSEEN_FILE = __file__\n",
    )
    write("marker.txt", "the root")
    hc.hipercow_environment_create(
        packages=["numpy as np", "os.path"], sources=["first.py", "sub/second.py"], globals=True
    )
    code = (
        "(A, B, WHERE, type(np).__name__, os.path.basename(SEEN_FILE), __name__, "
        "'__file__' in globals(), sorted(k for k in globals() if k.startswith('__')))"
    )
    task = hc.task_create_expr(code)
    assert task.wait(timeout=120), task.log()
    a, b, where, np_type, seen, name, has_file, dunders = task.result()
    assert (a, b, where, np_type, seen) == (10, 11, "the root", "module", "second.py")
    assert name == "__main__" and not has_file
    assert dunders == ["__builtins__", "__name__"]
    log = task.log()
    assert "Loading environment 'default'..." in log
    assert "• packages: numpy as np, os.path" in log
    assert "• sources: first.py, sub/second.py" in log


def test_functions_from_sources_see_the_task_namespace(root):
    write("funs.py", "def total():\n    return sum(VALUES)\n")
    hc.hipercow_environment_create("named", sources=["funs.py"], globals=["total"])
    task = hc.task_create_expr("VALUES = [1, 2, 3]\ntotal()", environment="named")
    assert task.wait(timeout=120), task.log()
    assert task.result() == 6


def test_empty_environment_loads_nothing(root):
    write("funs.py", "K = 5\n")
    hc.hipercow_environment_create(sources=["funs.py"], globals=["K"])
    ok = hc.task_create_expr("'K' in globals()", environment="empty", namespace={})
    assert ok.wait(timeout=120)
    assert ok.result() is False
    assert "Loading environment" not in ok.log()


def test_a_failing_source_fails_the_task_with_its_traceback(root):
    write("funs.py", "x = 1\nraise ValueError('bad data file')\n")
    hc.hipercow_environment_create(sources=["funs.py"])
    task = hc.task_create_expr("1")
    assert not task.wait(timeout=120)
    log = task.log()
    assert 'funs.py", line 2' in log and "ValueError: bad data file" in log


def test_pool_workers_load_the_environment(root):
    write("funs.py", "OFFSET = 100\n\ndef shift(x):\n    return x + OFFSET\n")
    write(
        "other.py",
        "def worker_name():\n    import os\n    return os.getpid()\nWORKER_FLAG = 'other'\n",
    )
    hc.hipercow_environment_create(sources=["funs.py"], globals=True)
    hc.hipercow_environment_create("other", sources=["other.py"], globals=True)
    res = hc.hipercow_resources(cores=2)
    same = hc.task_create_expr(
        "from hipercow_magic import pool\npool().map(shift, range(4))",
        resources=res,
        parallel=hc.hipercow_parallel("parallel"),
    )
    assert same.wait(timeout=180), same.log()
    assert same.result() == [100, 101, 102, 103]
    code = (
        "from hipercow_magic import pool\n"
        "def flag(_):\n    return WORKER_FLAG\n"
        "[pool().apply(flag, (i,)) for i in range(2)]"
    )
    other = hc.task_create_explicit(
        code,
        export=[],
        resources=res,
        parallel=hc.hipercow_parallel("parallel", environment="other"),
    )
    assert other.wait(timeout=180), other.log()
    assert other.result() == ["other", "other"]
