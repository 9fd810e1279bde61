"""Creating, running and looking at tasks through the api, on the real local driver."""

import os
import time

import pytest

import hipercow_magic as hc
from hipercow_magic import HipercowError
from hipercow_magic.core.errors import TaskNotFinishedError, TaskWaitTimeout

WAIT = 60


def test_expression_captures_only_what_it_reads_and_exports_assignments(root):
    x, unused = 21, list(range(1000))  # noqa: F841 (captured by the task)
    task = hc.task_create_expr("import math\ny = x * 2\nprint('y is', y)\nmath.floor(y / 4)")
    assert len(task.id) == 32
    data = hc.task_info(task.id).data
    assert data["locals"] == ["x"]
    assert task.wait(timeout=WAIT)
    assert task.status() == "success"
    assert task.result() == 10
    exports = task.exports()
    assert exports["y"] == 42
    assert exports["math"].sqrt(4) == 2
    assert "y is 42" in task.log()
    assert unused  # never shipped


def test_explicit_namespace_and_functions_defined_interactively(root):
    ns = {}
    exec("def square(v):\n    return v * v\nclass Box:\n    def __init__(s, v): s.v = v\n", ns)
    ns["__name__"] = "__main__"
    task = hc.task_create_expr("Box(square(7)).v", namespace=ns)
    assert task.wait(timeout=WAIT)
    assert task.result() == 49


def test_task_code_uses_hipercow_magic_without_capturing_it(root):
    # A notebook that only ran `%load_ext hipercow_magic` has no `hipercow_magic` name; the
    # node gives every task the package (its pool on the task's cores included).
    namespace = {"__name__": "__main__"}
    exec("def square(v):\n    return v * v\n", namespace)
    task = hc.task_create_expr(
        "results = hipercow_magic.pool().map(square, range(4))\nsum(results)",
        namespace=namespace,
        resources=hc.hipercow_resources(cores=2),
        parallel=hc.hipercow_parallel("parallel"),
    )
    assert hc.task_info(task.id).data["locals"] == ["square"]
    assert task.wait(timeout=WAIT), task.log()
    assert task.result() == 14
    assert task.exports()["results"] == [0, 1, 4, 9]


def test_missing_name_is_an_error_and_writes_nothing(root):
    before = hc.task_list()
    with pytest.raises(HipercowError, match="Could not find variable 'nope' used by the task"):
        hc.task_create_expr("nope + 1", namespace={})
    assert hc.task_list() == before


def test_syntax_error_caught_at_creation(root):
    with pytest.raises(HipercowError, match="line 1, column"):
        hc.task_create_expr("x = = 2", namespace={})
    assert hc.task_list() == []


def test_unpicklable_local_names_variable_and_type(root):
    import threading

    with pytest.raises(HipercowError, match="variable 'lock' .*_thread.lock"):
        hc.task_create_expr("lock.acquire()", namespace={"lock": threading.Lock()})
    assert hc.task_list() == []


def test_size_guard(root, monkeypatch):
    monkeypatch.setattr(hc.options, "max_size_local", 1000)
    with pytest.raises(HipercowError, match="Object too large to save with task: 'big'"):
        hc.task_create_expr("len(big)", namespace={"big": "x" * 5000})
    assert hc.task_list() == []


def test_call_task_with_a_function_from_a_module_in_the_working_directory(root, monkeypatch):
    with open("helpers.py", "w") as f:
        f.write("def helper_fn(a, b=10):\n    return a + b\n")
    monkeypatch.syspath_prepend(root.path)
    import helpers

    task = hc.task_create_call(helpers.helper_fn, (1,), {"b": 2})
    assert task.wait(timeout=WAIT)
    assert task.result() == 3
    info = str(task.info())
    assert "Call: " in info and "helper_fn" in info
    assert "Args: 1, b = 2" in info


def test_script_task_with_and_without_chdir(root, tmp_path):
    os.mkdir("sub")
    with open("sub/script.py", "w") as f:
        f.write("import os\nprint('cwd', os.path.basename(os.getcwd()))\n")
    plain = hc.task_create_script("sub/script.py")
    moved = hc.task_create_script("sub/script.py", chdir=True)
    assert plain.wait(timeout=WAIT) and moved.wait(timeout=WAIT)
    assert f"cwd {tmp_path.name}" in plain.log()
    assert "cwd sub" in moved.log()
    assert plain.result() is None


def test_script_outside_root_rejected(root, tmp_path_factory):
    outside = tmp_path_factory.mktemp("elsewhere") / "s.py"
    outside.write_text("print(1)\n")
    with pytest.raises(HipercowError, match="is not inside the hipercow root"):
        hc.task_create_script(str(outside))


def test_a_script_whose_name_starts_with_two_dots_is_inside_the_root(root, tmp_path):
    (tmp_path / "..x.py").write_text("print('dots')\n")
    task = hc.task_create_script("..x.py")
    assert task.info().data["script"] == "..x.py"
    assert task.wait(timeout=WAIT) and "dots" in task.log()
    outside = tmp_path.parent / f"..{tmp_path.name}.py"  # a look-alike beside the root
    outside.write_text("print(1)\n")
    with pytest.raises(HipercowError) as e:
        hc.task_create_script(str(outside))
    assert str(e.value) == (
        f"Script '{outside}' is not inside the hipercow root '{root.path}'\n"
        "Move it into the root, where the cluster can see it."
    )


def test_explicit_task_exports_only_listed_variables(root):
    a, b = 2, 3  # noqa: F841 (captured by the task)
    task = hc.task_create_explicit("a * 10", export=["a"])
    assert task.info().data["locals"] == ["a"]
    assert task.wait(timeout=WAIT) and task.result() == 20
    with pytest.raises(HipercowError, match="named in 'export'"):
        hc.task_create_explicit("b", export=["missing"])
    assert b == 3


def test_working_directory_recorded_and_restored(root, monkeypatch):
    os.makedirs("analysis/deep")
    monkeypatch.chdir("analysis/deep")
    task = hc.task_create_expr("import os\nos.getcwd()", namespace={})
    assert task.info().data["path"] == os.path.join("analysis", "deep")
    assert task.wait(timeout=WAIT)
    assert task.result() == os.path.join(root.path, "analysis", "deep")


def test_creating_outside_the_root_is_an_error(root, tmp_path_factory, monkeypatch):
    monkeypatch.chdir(tmp_path_factory.mktemp("outside"))
    with pytest.raises(HipercowError, match="Working directory is not a subdirectory"):
        hc.task_create_expr("1", namespace={}, root=root.path)


def test_failure_returns_exception_with_node_traceback(root):
    task = hc.task_create_expr(
        "def inner():\n    raise ValueError('bad input')\ninner()", namespace={}
    )
    assert task.wait(timeout=WAIT) is False
    assert task.status() == "failure"
    err = task.result()
    assert isinstance(err, ValueError) and str(err) == "bad input"
    assert "in inner" in err.node_traceback
    assert "raise ValueError('bad input')" in err.node_traceback
    assert "ValueError: bad input" in task.log()
    assert "Reason: ValueError: bad input" in str(task.info())


def test_result_of_unfinished_task(root):
    task = hc.task_create_expr("import time\ntime.sleep(30)", namespace={})
    with pytest.raises(
        TaskNotFinishedError, match="not available, status is '(submitted|running)'"
    ):
        task.result()
    task.cancel()


def test_ids_are_validated(root):
    for bad in ("xyz", "A" * 32, "../" + "a" * 29, "a" * 31 + "/", "a" * 32 + "\n"):
        with pytest.raises(HipercowError, match="Invalid task identifier"):
            hc.task_status(bad)
    with pytest.raises(HipercowError, match="does not exist"):
        hc.task_info("0" * 32)
    assert hc.task_status("0" * 32) is None


def test_status_is_vectorised_and_follows_handles(root):
    a = hc.task_create_expr("1", namespace={})
    b = hc.task_create_expr("2", namespace={}, driver=False)
    assert a.wait(timeout=WAIT)
    assert hc.task_status([a, b.id, "f" * 32]) == ["success", "created", None]
    assert hc.task_status([]) == []


def test_wait_rules(root):
    created = hc.task_create_expr("1", namespace={}, driver=False)
    with pytest.raises(HipercowError, match="Cannot wait on task .* which has not been submitted"):
        created.wait()
    slow = hc.task_create_expr("import time\ntime.sleep(20)", namespace={})
    assert slow.wait(for_start=True, timeout=WAIT) is True
    with pytest.raises(TaskWaitTimeout, match="did not complete in time \\(status: running\\)"):
        slow.wait(timeout=0.2)
    slow.cancel()


def test_task_info_layout(root):
    x = 1
    task = hc.task_create_expr("x + 1", name="add-one")
    task.wait(timeout=WAIT)
    lines = str(task.info()).splitlines()
    assert lines[0] == f"── task {task.id} (success) ──"
    text = "\n".join(lines)
    for needle in (
        "ℹ Name: add-one",
        "ℹ Submitted with 'local'",
        "ℹ Task type: expression",
        "• Expression: x + 1",
        "• Locals: x",
        "• Environment: default",
        "ℹ Created at ",
        "waited ",
        "ran for ",
    ):
        assert needle in text
    info = task.info()
    assert info.waited >= 0 and info.ran_for >= 0
    assert x == 1


def test_log_show_messages(root, capsys):
    task = hc.task_create_expr("1", namespace={}, driver=False)
    hc.task_log_show(task)
    assert f"No logs for task '{task.id}' (yet?)" in capsys.readouterr().out


def test_log_watch_streams_until_done(root, capsys):
    task = hc.task_create_expr(
        "import time\nfor i in range(3):\n    print('tick', i)\n    time.sleep(0.2)", namespace={}
    )
    assert hc.task_log_watch(task, poll=0.05, timeout=WAIT) is True
    out = capsys.readouterr().out
    assert "tick 0" in out and "tick 2" in out and "status: success" in out


def test_log_read_from_offset(root):
    task = hc.task_create_expr("print('first')", namespace={})
    task.wait(timeout=WAIT)
    text, offset = hc.task_log_read(task)
    assert "first" in text
    more, offset2 = hc.task_log_read(task, offset)
    assert more == "" and offset2 == offset


def test_cancel_queued_and_running(example_root, capsys):
    # example nodes have 4 cores each: fill all four nodes, then one more waits in the queue
    res = hc.hipercow_resources(cores=4)
    running = [
        hc.task_create_expr("import time\ntime.sleep(60)", namespace={}, resources=res)
        for _ in range(4)
    ]
    queued = hc.task_create_expr("1", namespace={}, resources=res)
    for t in running:
        assert t.wait(for_start=True, timeout=WAIT)
    time.sleep(0.3)
    assert queued.status() == "submitted"
    info = queued.info()
    assert info.scheduler.get("reason") == "Resources"
    capsys.readouterr()
    assert queued.cancel() is True
    assert f"Successfully cancelled '{queued.id}'" in capsys.readouterr().out
    pid = hc.task_info(running[0]).scheduler["pid"]
    assert hc.task_cancel(running) == [True] * 4
    assert "Successfully cancelled 4 tasks" in capsys.readouterr().out
    assert hc.task_status(running + [queued]) == ["cancelled"] * 5
    from processes import pid_alive

    assert not pid_alive(pid)
    assert queued.cancel() is False
    assert "Did not try to cancel" in capsys.readouterr().out
    with pytest.raises(TaskNotFinishedError, match="status is 'cancelled'"):
        queued.result()


def test_retry_chain_and_follow(root, capsys):
    counter = root.path + "/count"
    code = (
        "import os\np = COUNTER\nn = int(open(p).read()) if os.path.exists(p) else 0\n"
        "open(p, 'w').write(str(n + 1))\nn"
    )
    t1 = hc.task_create_expr(code, namespace={"COUNTER": counter})
    assert t1.wait(timeout=WAIT)
    t2 = t1.retry()
    assert t2.wait(timeout=WAIT)
    t3 = t1.retry()  # retrying any member extends the end of the chain
    assert t3.wait(timeout=WAIT)
    assert hc.task_result(t1) == 2  # follows the chain to the newest
    assert hc.task_result(t1, follow=False) == 0
    assert hc.task_info(t1, follow=False).retry_chain == [t1.id, t2.id, t3.id]
    text = str(hc.task_info(t1, follow=False))
    assert f"1st of a chain of a task retried 2 times, most recently '{t3.id}'" in text
    assert "Last of a chain of a task retried 2 times" in str(hc.task_info(t3))


def test_retry_of_unfinished_tasks_lists_them(root):
    tasks = [hc.task_create_expr("1", namespace={}, driver=False) for _ in range(7)]
    with pytest.raises(HipercowError) as e:
        hc.task_retry(tasks)
    text = str(e.value)
    assert text.startswith("7 tasks do not have terminal status")
    assert text.count("✖") == 5 and "...and 2 other tasks" in text


def test_list_filters_and_purge(root, capsys):
    done = hc.task_create_expr("1", namespace={})
    created = hc.task_create_expr("2", namespace={}, driver=False)
    done.wait(timeout=WAIT)
    assert hc.task_list() == [created.id, done.id]
    assert hc.task_list(with_status="success") == [done.id]
    with pytest.raises(HipercowError, match="No filter selected"):
        hc.hipercow_purge()
    with pytest.raises(HipercowError, match="Cannot purge tasks with status: 'submitted'"):
        hc.hipercow_purge(with_status="submitted")
    assert hc.hipercow_purge(with_status="success", dry_run=True) == [done.id]
    assert os.path.exists(root.task_dir(done.id))
    hc.hipercow_purge(with_status="success")
    assert not os.path.exists(root.task_dir(done.id))
    assert hc.task_list() == [created.id]
    running = hc.task_create_expr("import time\ntime.sleep(30)", namespace={})
    running.wait(for_start=True, timeout=WAIT)
    with pytest.raises(HipercowError, match="some tasks are submitted or running"):
        hc.hipercow_purge(task_ids=[running.id])
    running.cancel()


def test_finished_before_parsing():
    from hipercow_magic.engine.listing import parse_finished_before

    now = time.time()
    assert abs(parse_finished_before("1h") - (now - 3600)) < 5
    assert abs(parse_finished_before("2 day") - (now - 2 * 86400)) < 5
    assert abs(parse_finished_before("3   weeks") - (now - 21 * 86400)) < 5
    with pytest.raises(HipercowError, match="Invalid string input"):
        parse_finished_before("1 month")
    with pytest.raises(HipercowError, match="Unsupported input"):
        parse_finished_before(1)


def test_driver_selection_rules(bare_root, capsys):
    task = hc.task_create_expr("1", namespace={})
    assert task.status() == "created"
    with pytest.raises(HipercowError, match="No hipercow driver configured"):
        hc.hipercow_cluster_info()
    with pytest.raises(HipercowError, match="Invalid driver 'windows'"):
        hc.hipercow_configure("windows")
    with pytest.warns(UserWarning, match="Resources given but no driver selected") as caught:
        hc.task_create_expr("1", namespace={}, resources=hc.hipercow_resources(cores=2))
    assert caught[0].filename == __file__  # the warning points at the user's own line
    hc.hipercow_configure("local", idle_timeout=5)
    hc.hipercow_configure("example", idle_timeout=5)
    assert "Updated configuration for 'local'" in capsys.readouterr().out
    hc.hipercow_unconfigure("local")
    assert "Removed configuration for 'local'" in capsys.readouterr().out
    hc.hipercow_unconfigure("local")
    assert "Did not remove configuration for 'local'" in capsys.readouterr().out
    hc.hipercow_configure("example", idle_timeout=5)
    hc.hipercow_configure("example", idle_timeout=5)
    assert "Configuration for 'local' unchanged" in capsys.readouterr().out


def test_init_on_a_file_and_root_discovery(tmp_path, monkeypatch, capsys):
    f = tmp_path / "afile"
    f.write_text("x")
    with pytest.raises(HipercowError, match="it is a file"):
        hc.hipercow_init(str(f))
    (tmp_path / "r" / "hipercow").parent.mkdir()
    (tmp_path / "r" / "hipercow").write_text("")
    with pytest.raises(HipercowError, match="Unexpected file 'hipercow'"):
        hc.hipercow_init(str(tmp_path / "r"))
    root = hc.hipercow_init(str(tmp_path / "good"))
    assert "Next, call 'hipercow_configure()'" in capsys.readouterr().out
    hc.hipercow_init(str(tmp_path / "good"))
    assert "hipercow already initialised" in capsys.readouterr().out
    (tmp_path / "good" / "a" / "b").mkdir(parents=True)
    monkeypatch.chdir(tmp_path / "good" / "a" / "b")
    from hipercow_magic.core.root import find_root

    assert find_root() == root
    monkeypatch.chdir(tmp_path)
    with pytest.raises(HipercowError, match="Couldn't find hipercow root"):
        find_root()


def test_cluster_info_and_configuration(example_root, capsys):
    info = hc.hipercow_cluster_info()
    assert info.max_cores == 4 and info.max_memory == 4
    assert info.node_names == ["node-1", "node-2", "gpu-3", "gpu-4"]
    assert info.queue_names == ["alltasks", "bigmem", "fast"]
    assert info.default_queue == "alltasks"
    text = str(info)
    assert "alltasks" in text and "node-1, node-2, gpu-3, gpu-4" in text and "(default)" in text
    config = hc.hipercow_configuration()
    assert "local" in config["drivers"] and config["root"] == example_root.path
    assert "driver 'local'" in capsys.readouterr().out


def test_hello(root, capsys):
    assert hc.hipercow_hello(timeout=WAIT) == "Moo"
    assert "Successfully ran test task" in capsys.readouterr().out


def test_envvars_precedence_and_secrets(root):
    env = hc.hipercow_envvars("A=1", B="2") + hc.hipercow_envvars(TOKEN="s3cret", secret=True)
    task = hc.task_create_expr(
        "import os\n[os.environ[k] for k in ('A', 'B', 'TOKEN')]", namespace={}, envvars=env
    )
    data_text = open(root.task_file(task.id, "data.json")).read()
    assert "s3cret" not in data_text
    assert "TOKEN: ********" in str(task.info())
    assert task.wait(timeout=WAIT)
    assert task.result() == ["1", "2", "s3cret"]
    assert "TOKEN" not in os.environ
    over = hc.hipercow_envvars(A="1", B="2") + hc.hipercow_envvars(A="10", B=None)
    assert [(v.name, v.value) for v in over.resolved()] == [("A", "10")]
    with pytest.raises(HipercowError, match="Invalid environment variable name"):
        hc.hipercow_envvars(**{"1BAD": "x"})


def test_unpicklable_assignments_are_left_out_with_a_note(root):
    task = hc.task_create_expr("import threading\nlock = threading.Lock()\nx = 1\nx", namespace={})
    assert task.wait(timeout=WAIT)
    assert task.result() == 1
    exports = task.exports()
    assert exports["x"] == 1 and "lock" not in exports
    assert "Not sent back, as they can't be pickled: 'lock' (lock)" in task.log()
    value = hc.task_create_expr("import threading\nthreading.Lock()", namespace={})
    assert value.wait(timeout=WAIT)
    with pytest.raises(HipercowError, match="The task's value \\(a lock\\) could not be pickled"):
        value.result()


def test_names_from_the_workers_environment_are_not_captured(root):
    with open("tools.py", "w") as f:
        f.write("def scale(x):\n    return x * 10\n")
    hc.hipercow_environment_create("workers", sources=["tools.py"], globals=["scale"])
    code = (
        "def f(x):\n    return scale(x)\n"
        "import hipercow_magic\nhipercow_magic.pool().map(f, [1, 2])"
    )
    if hc.hipercow_cluster_info().max_cores < 2:
        pytest.skip("needs a 2-core node")
    task = hc.task_create_expr(
        code,
        namespace={},
        resources=hc.hipercow_resources(cores=2),
        parallel=hc.hipercow_parallel("parallel", environment="workers"),
    )
    assert task.wait(timeout=WAIT), task.log()
    assert task.result() == [10, 20]


def test_a_value_that_cannot_be_loaded_here_spoils_nothing_else(root):
    code = (
        "import os, sys\nos.makedirs('nodelib', exist_ok=True)\n"
        "open('nodelib/nodeonly.py', 'w').write('X = 5')\n"
        "sys.path.insert(0, 'nodelib')\nimport nodeonly\nx = nodeonly.X * 2\nx"
    )
    task = hc.task_create_expr(code, namespace={})
    assert task.wait(timeout=WAIT)
    assert task.result() == 10
    with pytest.warns(UserWarning, match="'nodeonly' \\(ModuleNotFoundError") as caught:
        exports = task.exports()
    assert caught[0].filename == __file__
    assert exports["x"] == 10 and "nodeonly" not in exports
    loaded = hc.task_create_expr(
        code.replace("\nx = nodeonly.X * 2\nx", "\nnodeonly"), namespace={}
    )
    assert loaded.wait(timeout=WAIT)
    with pytest.raises(HipercowError, match="can't be loaded here \\(ModuleNotFoundError"):
        loaded.result()


def test_a_variable_shadowing_a_builtin_is_sent_and_used(root):
    def len(x):  # noqa: A001 (a notebook redefining a builtin)
        return 42

    task = hc.task_create_expr("len([1, 2, 3])")
    assert hc.task_info(task.id).data["locals"] == ["len"]
    assert task.wait(timeout=WAIT)
    assert task.result() == 42
    plain = hc.task_create_expr("max([1, 2]) + abs(-1)", namespace={"max": max})
    assert hc.task_info(plain.id).data["locals"] == []  # the builtin itself is not sent
    assert plain.wait(timeout=WAIT) and plain.result() == 3


def test_a_hold_time_too_far_ahead_is_an_error_and_leaves_no_task(root):
    import datetime as dt
    import subprocess
    import sys

    from processes import source_environment

    for value in (9999999999, "9999999999", dt.datetime(9999, 12, 31, 23, 0)):
        with pytest.raises(HipercowError, match="too far in the future"):
            hc.hipercow_resources(hold_until=value)
    proc = subprocess.run(
        [sys.executable, "-m", "hipercow_magic.cli", "create", "1", "--hold-until", "9999999999"],
        capture_output=True,
        text=True,
        env=source_environment(),
        cwd=root.path,
        timeout=120,
    )
    assert proc.returncode != 0
    assert "too far in the future" in proc.stderr and "Traceback" not in proc.stderr
    assert hc.task_list() == []


def test_scripts_are_read_as_python_reads_them(root):
    with open("bom.py", "wb") as f:
        f.write(b"\xef\xbb\xbfprint('caf\xc3\xa9 ok')\n")
    with open("latin.py", "wb") as f:
        f.write(b"# -*- coding: latin-1 -*-\nprint('caf\xe9 ' + 'latin')\n")
    with open("bad.py", "wb") as f:
        f.write(b"print('caf\xe9')\n")
    tasks = [hc.task_create_script("bom.py"), hc.task_create_script("latin.py")]
    for task, text in zip(tasks, ("café ok", "café latin")):
        assert task.wait(timeout=WAIT), task.log()
        assert text in task.log()
    with pytest.raises(HipercowError, match="Can't read script 'bad.py'") as e:
        hc.task_create_script("bad.py")
    assert "coding" in str(e.value)
    assert len(hc.task_list()) == 2
