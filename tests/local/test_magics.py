"""The magics driven through a real IPython shell, submitting to the real local driver."""

from __future__ import annotations

import threading

import pytest
from IPython.core.error import UsageError
from processes import magic_shell, wait_until

import hipercow_magic as hc
from hipercow_magic.magics import loaded_magics
from hipercow_magic.widgets.updater import get_updater

TERMINAL = ("success", "failure", "cancelled")


@pytest.fixture
def shell(ip, example_root, capsys):
    """The shell with a clean namespace, in a fresh root on the example cluster."""
    yield from magic_shell(ip, capsys, "auto")


def finished(task_id: str, timeout: float = 20.0) -> str:
    return wait_until(lambda: (s := hc.task_status(task_id)) in TERMINAL and s, timeout)


def submit(shell, code: str, options: str = "") -> hc.Task:
    """Run a %%hipercow cell; the handle it put in `h`."""
    result = shell.run_cell(f"%%hipercow {options} -o h\n{code}")
    assert result.error_in_exec is None, result.error_in_exec
    return shell.user_ns["h"]


def test_loading_twice_is_harmless_and_help_lists_options(ip):
    magics = loaded_magics(ip)
    hc.load_ipython_extension(ip)
    ip.run_line_magic("load_ext", "hipercow_magic")
    assert loaded_magics(ip) is magics
    assert ip.magics_manager.magics["cell"]["hipercow"].__self__ is magics
    doc = ip.magics_manager.magics["cell"]["hipercow"].__doc__
    for option in ("--cores", "--bulk", "--wait", "--no-export", "--envvar", "--hold-until"):
        assert option in doc


def test_a_trailing_comment_on_a_magic_line_is_left_out(shell):
    cell = '%%hipercow -o h --name "run #2" --envvar A=x#y  # first try\nimport os\nos.environ["A"]'
    result = shell.run_cell(cell)
    assert result.error_in_exec is None, result.error_in_exec
    task = shell.user_ns["h"]
    assert hc.task_info(task.id).data["name"] == "run #2"
    assert finished(task.id) == "success"
    assert task.result() == "x#y"
    result = shell.run_cell("%hipercow status  # how many of each?")
    assert result.error_in_exec is None


def test_traitlets_configure_the_magics(shell):
    shell.run_line_magic("config", "HipercowMagics.refresh_interval = 0.5")
    assert get_updater().interval == 0.5
    shell.run_line_magic("config", "HipercowMagics.refresh_interval = 1.0")
    assert get_updater().interval == 1.0


def test_captures_exactly_the_names_the_cell_reads(shell, capsys):
    shell.user_ns.update(x=21, y=[1, 2, 3], z="s", unused=threading.Lock())
    task = submit(shell, "total = x + len(y)\nlabel = z * 2\n(total, label)")
    data = hc.task_info(task.id).data
    assert sorted(data["locals"]) == ["x", "y", "z"]
    out = capsys.readouterr().out
    assert "captured: " in out and "x (" in out and "y (" in out and "unused" not in out
    assert finished(task.id) == "success"
    assert task.result() == (24, "ss")


def test_values_arrive_after_success_between_cells(shell, capsys):
    shell.user_ns["x"] = 20
    task = submit(shell, "y = x + 1\nz = y * 2")
    assert "y" not in shell.user_ns
    assert finished(task.id) == "success"
    wait_until(
        lambda: loaded_magics(shell).delivery.pending_count() or "y" in shell.user_ns, timeout=10
    )
    shell.run_cell("seen = (y, z)")
    assert shell.user_ns["seen"] == (21, 42)
    out = capsys.readouterr().out
    assert "set in the notebook: y, z" in out


def test_failed_task_changes_nothing_and_shows_the_node_traceback(shell, capsys):
    shell.user_ns["a"] = "before"
    task = submit(shell, "a = 'after'\nb = 1 / 0")
    assert finished(task.id) == "failure"
    shell.run_cell("pass")
    assert shell.user_ns["a"] == "before" and "b" not in shell.user_ns
    out = capsys.readouterr().out
    assert "ZeroDivisionError: division by zero" in out
    assert "Traceback" in out and "b = 1 / 0" in out
    assert "nothing was set in the notebook" in out
    # numbered as the notebook numbers the cell: its %%hipercow line is line 1
    assert f'File "Cell for task {task.id[:8]}", line 3, in <module>' in out


def test_cancelled_task_changes_nothing(shell, capsys):
    task = submit(shell, "import time\ntime.sleep(30)\nc = 1")
    wait_until(lambda: task.status() == "running")
    shell.run_line_magic("hipercow", f"cancel {task.id[:10]}")
    assert finished(task.id) == "cancelled"
    shell.run_cell("pass")
    assert "c" not in shell.user_ns
    assert "cancelled" in capsys.readouterr().out


def test_values_never_arrive_during_a_running_cell(shell):
    task = submit(shell, "import time\ntime.sleep(0.5)\nlate = 'value'")  # ends mid-cell
    result = shell.run_cell(
        "import time\nobserved = []\n"
        "for _ in range(30):\n    observed.append('late' in globals())\n    time.sleep(0.1)"
    )
    assert result.error_in_exec is None
    assert finished(task.id) == "success"
    assert shell.user_ns["observed"] == [False] * 30
    shell.run_cell("pass")
    assert shell.user_ns["late"] == "value"


def test_an_older_task_never_overwrites_a_newer_ones_values(shell):
    slow = submit(shell, "import time\ntime.sleep(1.5)\nk = 'old'")
    fast = submit(shell, "k = 'new'")
    assert finished(fast.id) == "success"
    assert finished(slow.id) == "success"
    shell.run_cell("pass")
    shell.run_cell("pass")
    assert shell.user_ns["k"] == "new"


def test_no_export_leaves_the_namespace_alone(shell):
    task = submit(shell, "quiet = 1", "--no-export")
    assert finished(task.id) == "success"
    shell.run_cell("pass")
    assert "quiet" not in shell.user_ns
    assert task.exports() == {"quiet": 1}


def test_wait_blocks_sets_values_and_outputs_the_last_value(shell):
    shell.user_ns["x"] = 4
    result = shell.run_cell("%%hipercow --wait\nsquare = x * x\nsquare + 1")
    assert result.error_in_exec is None
    assert result.result == 17
    assert shell.user_ns["square"] == 16


def test_wait_on_a_failure_outputs_nothing_and_sets_nothing(shell, capsys):
    result = shell.run_cell("%%hipercow --wait\nbad = 1\nraise ValueError('nope')")
    assert result.result is None
    shell.run_cell("pass")
    assert "bad" not in shell.user_ns
    assert "ValueError: nope" in capsys.readouterr().out


def test_wait_interrupted_stops_waiting_not_the_task(shell, capsys):
    timer = threading.Timer(1.0, lambda: __import__("_thread").interrupt_main())
    timer.start()
    result = shell.run_cell("%%hipercow --wait -o h\nimport time\ntime.sleep(3)\nlater = 5\nlater")
    timer.join()
    assert result.result is None
    assert "Stopped waiting" in capsys.readouterr().out
    task = shell.user_ns["h"]
    assert task.status() in ("running", "success")
    assert finished(task.id) == "success"
    shell.run_cell("pass")
    assert shell.user_ns["later"] == 5


# ---- a cell reading a name a pending task will set waits for it ----------------------------
def waiting_for(shell, task: hc.Task) -> None:
    """Block until a cell is waiting for `task` (it holds the task's values back)."""
    model = next(m for m in loaded_magics(shell).models if m.id == task.id)
    wait_until(lambda: not model.export, timeout=30)


def gated(code: str, gate: str = "go") -> str:
    """Task code that runs once the file `gate` exists in the root (so it is still pending
    when the next cell begins, however slow the machine)."""
    return f"import os, time\nwhile not os.path.exists({gate!r}):\n    time.sleep(0.05)\n{code}"


def open_when_waiting(shell, task: hc.Task, gate: str = "go") -> threading.Thread:
    """Create the file `gate` once a cell waits for `task` (from a thread, returned)."""
    thread = threading.Thread(target=lambda: (waiting_for(shell, task), open(gate, "w").close()))
    thread.start()
    return thread


def test_a_cell_reading_a_pending_name_waits_then_runs(shell, capsys):
    task = submit(shell, gated("summary = 21"))
    capsys.readouterr()
    opener = open_when_waiting(shell, task)
    result = shell.run_cell("doubled = summary * 2")
    opener.join()
    assert result.error_in_exec is None
    assert shell.user_ns["doubled"] == 42
    out = capsys.readouterr().out
    line = f"waiting for task {task.id[:8]} to set `summary`; interrupt to stop waiting"
    assert out.count(line) == 1  # said once, in a terminal
    assert hc.task_status(task.id) == "success"


def test_names_a_cell_assigns_before_reading_do_not_wait(shell, capsys):
    task = submit(shell, "import time\ntime.sleep(30)\ncount = 1\nlabel = 'task'")
    capsys.readouterr()
    result = shell.run_cell(
        "count = 10\ncount += 1\ndef show(label):\n    return label\nshown = show('mine')"
    )
    assert result.error_in_exec is None
    assert (shell.user_ns["count"], shell.user_ns["shown"]) == (11, "mine")
    assert "waiting for task" not in capsys.readouterr().out
    assert task.status() in ("submitted", "running")  # it did not wait for the task


def test_a_magic_line_reading_a_pending_name_waits(shell, capsys):
    earlier = submit(shell, "value = 1")
    assert finished(earlier.id) == "success"
    task = submit(shell, gated(f"which = '{earlier.id}'"))
    capsys.readouterr()
    opener = open_when_waiting(shell, task)
    result = shell.run_cell("%hipercow_info {which}")
    opener.join()
    assert result.error_in_exec is None
    out = capsys.readouterr().out
    assert "to set `which`; interrupt to stop waiting" in out
    assert f"task {earlier.id}" in out


def test_interrupting_the_wait_stops_the_cell_not_the_task(shell, capsys):
    from hipercow_magic.magics.waiting import WaitInterrupted

    task = submit(shell, gated("late = 'arrived'"))
    interrupter = threading.Thread(
        target=lambda: (waiting_for(shell, task), __import__("_thread").interrupt_main())
    )
    interrupter.start()
    result = shell.run_cell("print('ran', late)\nafter = 1")
    interrupter.join()
    assert isinstance(result.error_in_exec, WaitInterrupted)
    assert "after" not in shell.user_ns and "late" not in shell.user_ns
    out = capsys.readouterr().out
    assert "ran" not in out
    assert f"stopped waiting for task {task.id[:8]}; it carries on" in out
    assert task.status() in ("submitted", "running")  # it carries on
    open("go", "w").close()
    assert finished(task.id) == "success"
    shell.run_cell("pass")
    assert shell.user_ns["late"] == "arrived"


def test_a_cancelled_task_stops_the_reading_cell_with_one_clear_error(shell, capsys):
    from hipercow_magic.magics.waiting import PendingTaskFailed

    task = submit(shell, "import time\ntime.sleep(30)\nnever = 1")
    canceller = threading.Thread(target=lambda: (waiting_for(shell, task), task.cancel()))
    canceller.start()
    result = shell.run_cell("print(never)")
    canceller.join()
    assert isinstance(result.error_in_exec, PendingTaskFailed)
    sid = task.id[:8]
    assert str(result.error_in_exec) == (
        f"task {sid}, which sets `never`, was cancelled; nothing was set. See its display "
        f"above, or %hipercow retry {sid}"
    )
    shown = "".join(capsys.readouterr())
    assert f"HipercowError: task {sid}, which sets `never`, was cancelled" in shown
    assert "Traceback" not in shown
    assert "never" not in shell.user_ns


def test_a_name_a_failed_task_did_not_set_is_a_clear_error_not_a_name_error(shell):
    from hipercow_magic.magics.waiting import PendingTaskFailed

    shell.user_ns["kept"] = "mine"
    task = submit(shell, "kept = 'theirs'\nlost = 1 / 0")
    assert finished(task.id) == "failure"
    shell.run_cell("pass")  # the failure is known before the next cells begin
    result = shell.run_cell("print(kept)")
    assert result.error_in_exec is None  # the notebook's own value is still there
    result = shell.run_cell("print(lost)")
    assert isinstance(result.error_in_exec, PendingTaskFailed)
    assert str(result.error_in_exec).startswith(
        f"task {task.id[:8]}, which sets `lost`, failed: ZeroDivisionError: division by zero; "
    )
    shell.run_cell("lost = 0")
    assert shell.run_cell("print(lost)").error_in_exec is None


def test_a_cell_reading_names_of_two_pending_tasks_waits_for_both(shell, capsys):
    first = submit(shell, gated("left, right = 1, 2", "go-first"))
    second = submit(shell, gated("third = 3", "go-second"))
    capsys.readouterr()
    openers = [open_when_waiting(shell, first, "go-first")]
    openers.append(open_when_waiting(shell, second, "go-second"))
    assert shell.run_cell("total = left + right + third").error_in_exec is None
    for opener in openers:
        opener.join()
    assert shell.user_ns["total"] == 6
    out = capsys.readouterr().out
    assert f"waiting for task {first.id[:8]} to set `left` and `right`;" in out
    assert f"waiting for task {second.id[:8]} to set `third`;" in out


def test_after_a_retry_the_reading_cell_waits_for_the_new_task(shell, tmp_path):
    from hipercow_magic.magics.waiting import PendingTaskFailed

    task = submit(
        shell, "import os\nif not os.path.exists('fixed'):\n    raise ValueError('not yet')\nv = 7"
    )
    result = shell.run_cell("print(v)")
    assert isinstance(result.error_in_exec, PendingTaskFailed)
    assert f"%hipercow retry {task.id[:8]}" in str(result.error_in_exec)
    (tmp_path / "fixed").touch()
    shell.run_line_magic("hipercow", f"retry {task.id[:8]}")
    assert shell.run_cell("doubled = v * 2").error_in_exec is None
    assert shell.user_ns["doubled"] == 14


def test_a_bulk_cell_waits_for_the_task_that_makes_its_rows(shell, capsys):
    maker = submit(shell, gated("rows = [{'n': 1}, {'n': 2}]"))
    opener = open_when_waiting(shell, maker)
    result = shell.run_cell("%%hipercow --bulk rows --wait\nn * 10")
    opener.join()
    assert result.error_in_exec is None and result.result == [10, 20]
    assert f"waiting for task {maker.id[:8]} to set `rows`" in capsys.readouterr().out


def test_cells_are_left_alone_unless_they_read_a_pending_name(shell):
    import ast

    transformer = loaded_magics(shell)._transformer
    assert transformer in shell.ast_transformers

    def transformed(code: str) -> str:
        return ast.unparse(transformer.visit(ast.parse(code)))

    assert transformed("y = x + 1") == "y = x + 1"  # nothing pending: not even analysed
    submit(shell, "import time\ntime.sleep(30)\nx = 1")
    assert transformed("y = z + 1") == "y = z + 1"
    assert transformed("x = 2\ny = x + 1") == "x = 2\ny = x + 1"
    assert transformed("from __future__ import annotations\ny = x + 1").splitlines()[1] == (
        f"__import__('hipercow_magic.magics.waiting', fromlist=['wait_for_names'])"
        f".wait_for_names({id(loaded_magics(shell))}, ('x',))"
    )


@pytest.mark.parametrize(
    "options, check",
    [
        ("--cores 2", lambda d: d["resources"]["cores"] == 2),
        ("--cores Inf", lambda d: d["resources"]["cores"] == "Inf"),
        ("--exclusive", lambda d: d["resources"]["exclusive"] is True),
        ("--max-runtime 1h30", lambda d: d["resources"]["max_runtime"] == 90),
        (
            "--hold-until 2099-01-01T00:00",
            lambda d: d["resources"]["hold_until"].startswith("2099"),
        ),
        ("--hold-until 90", lambda d: d["resources"]["hold_until"] == 90),
        ("--memory-per-node 2G", lambda d: d["resources"]["memory_per_node"] == 2),
        ("--memory-per-process 1G", lambda d: d["resources"]["memory_per_process"] == 1),
        ("--nodes gpu-3,gpu-4", lambda d: d["resources"]["requested_nodes"] == ["gpu-3", "gpu-4"]),
        ("--priority low", lambda d: d["resources"]["priority"] == "low"),
        ("--queue bigmem", lambda d: d["resources"]["queue"] == "bigmem"),
        ("--cores 2 --parallel parallel", lambda d: d["parallel"]["method"] == "parallel"),
        (
            "--cores 4 --parallel future --cores-per-process 2",
            lambda d: (
                d["parallel"] == {"method": "future", "cores_per_process": 2, "environment": None}
            ),
        ),
        ("--environment default", lambda d: d["environment"] == "default"),
        (
            "--envvar A=1 --envvar B=two",
            lambda d: (
                {"A": "1", "B": "two"}.items()
                <= {v["name"]: v.get("value") for v in d["envvars"]}.items()
            ),
        ),
        ("--driver local", lambda d: d["driver"] == "local"),
        ("--name my-cell", lambda d: d["name"] == "my-cell"),
    ],
)
def test_each_option_reaches_the_task(shell, options, check):
    task = submit(shell, "value = 1", options)
    assert check(hc.task_info(task.id).data), hc.task_info(task.id).data


def test_options_change_what_runs(shell):
    task = submit(
        shell,
        "import os\nseen = (os.environ['GREETING'], os.environ['HIPERCOW_CORES'])",
        "--cores 2 --envvar GREETING=hello",
    )
    assert finished(task.id) == "success"
    assert task.exports()["seen"] == ("hello", "2")


@pytest.mark.parametrize(
    "options, words",
    [
        ("--cores 0", "cores"),
        ("--cores lots", "cores"),
        ("--cores 99", "too many cores"),
        ("--queue nowhere", "nowhere queue is not available"),
        ("--nodes node-9", "'node-9' node does not exist"),
        ("--priority urgent", "invalid choice"),
        ("--max-runtime soon", "max_runtime"),
        ("--memory-per-node lots", "memory_per_node"),
        ("--memory-per-node 64G", "too large"),
        ("--hold-until 2001-01-01T00:00", "in the past"),
        ("--parallel parallel", "1 core"),
        ("--cores-per-process 0", "positive whole number"),
        ("--envvar NOVALUE", "NAME=value"),
        ("--envvar 1A=x", "Invalid environment variable name"),
        ("--driver slurm", "not configured"),
        ("--environment nosuch", "nosuch"),
        ("--bulk undefined_rows", "Could not evaluate --bulk"),
        ("--bogus", "unrecognized arguments: --bogus"),
        ("-o 1bad", "variable name"),
    ],
)
def test_bad_option_prints_one_line_and_submits_nothing(shell, capsys, options, words):
    before = hc.task_list()
    capsys.readouterr()
    result = shell.run_cell(f"%%hipercow {options}\nvalue = 1")
    assert isinstance(result.error_in_exec, UsageError)
    captured = capsys.readouterr()
    text = (captured.out + captured.err).strip()
    assert len(text.splitlines()) == 1, text
    assert text.startswith("UsageError: ") and words in text, text
    assert "Traceback" not in text
    assert hc.task_list() == before


@pytest.mark.parametrize(
    "setup, code, words",
    [
        ("", "y = missing + 1", "'missing'"),
        ("import threading\nlock = threading.Lock()", "n = lock.locked()", "variable 'lock'"),
        ("", "y = (", "Syntax error"),
    ],
)
def test_cell_problems_stop_submission_naming_the_cause(shell, capsys, setup, code, words):
    shell.run_cell(setup)
    before = hc.task_list()
    capsys.readouterr()
    result = shell.run_cell(f"%%hipercow\n{code}")
    assert isinstance(result.error_in_exec, UsageError)
    captured = capsys.readouterr()
    assert words in captured.err and "Traceback" not in captured.err
    assert hc.task_list() == before


def test_bulk_one_task_per_row_results_on_the_handle(shell, capsys):
    shell.run_cell("rows = [{'a': 1, 'b': 10}, {'a': 2, 'b': 20}, {'a': 3, 'b': 30}]\nk = 100")
    result = shell.run_cell("%%hipercow --bulk rows -o bundle\nout = a * b + k\nout")
    assert result.error_in_exec is None
    bundle = shell.user_ns["bundle"]
    assert len(bundle) == 3
    assert bundle.wait(timeout=30)
    assert bundle.result() == [110, 140, 190]
    assert "out" not in shell.user_ns
    assert "hipercow bundle" in capsys.readouterr().out


def test_bulk_dataframe_with_wait_outputs_the_results(shell):
    shell.run_cell("import pandas as pd\ndf = pd.DataFrame({'n': [1, 2, 3, 4]})")
    result = shell.run_cell("%%hipercow --bulk df --wait\nn ** 2")
    assert result.result == [1, 4, 9, 16]


def test_text_display_shows_the_facts(shell, capsys):
    shell.user_ns["x"] = 3
    task = submit(shell, "print('hello from the node')\ny = x\ny", "--name facts --cores 2")
    out = capsys.readouterr().out
    assert f"hipercow task {task.id[:8]} 'facts': submitted" in out
    assert "driver local · 2 cores, queue alltasks" in out
    assert "captured: x (" in out
    assert finished(task.id) == "success"
    shell.run_cell("pass")
    out = capsys.readouterr().out
    assert f"✔ hipercow task {task.id[:8]} 'facts': success" in out
    assert "waited" in out and "ran for" in out
    assert "result: 3" in out and "set in the notebook: y" in out


def test_line_magic_commands(shell, capsys):
    first = submit(shell, "answer = 42\nanswer")
    second = submit(shell, "raise RuntimeError('boom')")
    assert finished(first.id) == "success" and finished(second.id) == "failure"
    capsys.readouterr()

    shell.run_line_magic("hipercow", "list")
    listing = capsys.readouterr().out
    assert listing.index(second.id[:8]) < listing.index(first.id[:8])  # newest first
    assert "success" in listing and "failure" in listing and "2 tasks" in listing

    shell.run_line_magic("hipercow", f"status {first.id[:6]}")
    assert f"{first.id}  success" in capsys.readouterr().out
    shell.run_line_magic("hipercow", "status")
    assert "2 tasks: " in capsys.readouterr().out

    shell.run_line_magic("hipercow", f"info {first.id}")
    assert f"task {first.id} (success)" in capsys.readouterr().out
    assert shell.run_line_magic("hipercow", f"result {first.id[:8]}") == 42
    shell.run_line_magic("hipercow", f"result {first.id[:8]} -o got")
    assert shell.user_ns["got"] == 42
    shell.run_line_magic("hipercow", f"result {first.id[:8]} --export")
    assert shell.user_ns["answer"] == 42
    shell.run_line_magic("hipercow", f"log {second.id}")
    assert "RuntimeError: boom" in capsys.readouterr().out
    assert shell.run_line_magic("hipercow", f"wait {first.id}") is True

    retried = shell.run_line_magic("hipercow", f"retry {second.id[:8]}")
    assert f"Retrying '{second.id}' as '{retried.id}'" in capsys.readouterr().out
    assert finished(retried.id) == "failure"

    shell.run_line_magic("hipercow", "purge --status failure")
    assert second.id not in hc.task_list()
    assert first.id in hc.task_list()


def test_line_magic_errors_are_one_line(shell, capsys):
    for line in (
        "result 0123456789abcdef0123456789abcdef",
        "info zz",
        "wait nosuchbundle",
        "frobnicate",
    ):
        with pytest.raises(UsageError) as e:
            shell.run_line_magic("hipercow", line)
        assert "\n" not in str(e.value)


def test_hipercow_info_shows_the_cluster_and_tasks(shell, capsys):
    shell.run_line_magic("hipercow_info", "")
    out = capsys.readouterr().out
    assert "Cluster 'example' (driver 'local')" in out
    for node in ("node-1", "node-2", "gpu-3", "gpu-4"):
        assert node in out
    assert "alltasks (default)" in out and "bigmem" in out and "Python on the cluster" in out
    task = submit(shell, "v = 1")
    capsys.readouterr()
    shell.run_line_magic("hipercow_info", task.id[:8])
    assert f"task {task.id}" in capsys.readouterr().out


def test_show_reattaches_to_an_earlier_task_and_can_export(shell, capsys):
    task = hc.task_create_expr("import time\ntime.sleep(1)\nrestored = 'yes'", namespace={})
    shell.run_line_magic("hipercow", f"show {task.id[:8]} --export")
    assert f"hipercow task {task.id[:8]}" in capsys.readouterr().out
    assert finished(task.id) == "success"
    shell.run_cell("pass")
    assert shell.user_ns["restored"] == "yes"


def test_init_and_configure_from_the_magic(ip, tmp_path, monkeypatch, capsys):
    from processes import stop_local_scheduler

    monkeypatch.chdir(tmp_path)
    ip.run_line_magic("hipercow", "init . --driver local --cluster example")
    out = capsys.readouterr().out
    assert "Initialised hipercow" in out and "Configured hipercow to use 'local'" in out
    ip.run_line_magic("hipercow", "configure local cluster=example idle_timeout=60")
    assert "Updated configuration for 'local'" in capsys.readouterr().out
    with pytest.raises(UsageError, match="Invalid driver 'nope'"):
        ip.run_line_magic("hipercow", "configure nope")
    stop_local_scheduler(hc.hipercow_root())


def test_show_a_bundle_and_command_help(shell, capsys):
    bundle = hc.task_create_bulk_expr(
        "v * 2", [{"v": 1}, {"v": 2}], namespace={}, bundle_name="pair"
    )
    assert bundle.wait(timeout=30)
    capsys.readouterr()
    shell.run_line_magic("hipercow", "show pair")
    out = capsys.readouterr().out
    assert "hipercow bundle 'pair': 2/2 finished" in out and "2 success" in out
    assert shell.run_line_magic("hipercow", "result pair") == [2, 4]
    shell.run_line_magic("hipercow", "list -h")
    assert "%hipercow list" in capsys.readouterr().out
    shell.run_line_magic("hipercow", "")
    assert "provision" in capsys.readouterr().out


def test_unload_removes_the_magics_and_reload_restores_them(ip):
    transformer = loaded_magics(ip)._transformer
    assert transformer in ip.ast_transformers
    ip.run_line_magic("unload_ext", "hipercow_magic")
    assert "hipercow" not in ip.magics_manager.magics["cell"]
    assert "hipercow_info" not in ip.magics_manager.magics["line"]
    assert loaded_magics(ip) is None
    assert transformer not in ip.ast_transformers  # cells no longer wait for tasks
    ip.run_line_magic("load_ext", "hipercow_magic")
    assert "hipercow" in ip.magics_manager.magics["cell"]
    assert loaded_magics(ip) is not None
    assert [t for t in ip.ast_transformers if type(t) is type(transformer)] == [
        loaded_magics(ip)._transformer
    ]


def test_a_cell_without_a_driver_waits_to_be_submitted(ip, bare_root, capsys):
    from processes import stop_local_scheduler

    ip.reset()
    ip.user_ns["x"] = 1
    result = ip.run_cell("%%hipercow -o pending\nlater = x + 1")
    assert result.error_in_exec is None
    task = ip.user_ns["pending"]
    assert task.status() == "created"
    assert "not submitted: no driver configured" in capsys.readouterr().out
    ip.run_line_magic("hipercow", "configure local")
    ip.run_line_magic("hipercow", f"submit {task.id[:8]}")
    try:
        assert finished(task.id) == "success"
        ip.run_cell("pass")
        assert ip.user_ns["later"] == 2
    finally:
        stop_local_scheduler(bare_root)


def test_wait_with_no_export_outputs_the_value_and_sets_nothing(shell, capsys):
    shell.user_ns["x"] = 20
    result = shell.run_cell("%%hipercow --wait --no-export -o h\nkept = x + 1\nkept * 2")
    assert result.error_in_exec is None
    assert result.result == 42
    shell.run_cell("pass")
    shell.run_cell("pass")
    assert "kept" not in shell.user_ns
    assert shell.user_ns["h"].exports() == {"kept": 21}
    assert "set in the notebook" not in capsys.readouterr().out


def test_quoted_values_arrive_without_their_quotes(shell):
    task = submit(
        shell,
        "import os\nseen = os.environ['GREETING']",
        '--name "my run" --envvar GREETING="hello there" --envvar \'OTHER=a b\'',
    )
    data = hc.task_info(task.id).data
    assert data["name"] == "my run"
    values = {v["name"]: v.get("value") for v in data["envvars"]}
    assert values["GREETING"] == "hello there" and values["OTHER"] == "a b"
    assert finished(task.id) == "success"
    assert task.exports()["seen"] == "hello there"


def test_a_bulk_expression_with_spaces_can_be_quoted(shell):
    result = shell.run_cell("%%hipercow --bulk \"[{'n': 1}, {'n': 2}]\" --wait\nn * 10")
    assert result.error_in_exec is None
    assert result.result == [10, 20]


def test_a_failed_check_before_a_cell_is_shown_not_skipped(shell, capsys, monkeypatch):
    from hipercow_magic.drivers.local import LocalDriver

    task = submit(shell, "import time\ntime.sleep(30)\nnever = 1")
    wait_until(lambda: task.status() == "running")
    capsys.readouterr()

    def unreachable(self, ids):
        raise hc.HipercowError("The scheduler did not answer\nIs the cluster up?")

    with monkeypatch.context() as patched:  # the cluster stops answering, for a while
        patched.setattr(LocalDriver, "status", unreachable)
        shell.run_cell("pass")
        err = capsys.readouterr().err
        assert "! hipercow could not check 1 task before this cell" in err
        assert "The scheduler did not answer — Is the cluster up?" in err
        model = next(m for m in loaded_magics(shell).models if m.id == task.id)
        assert "The scheduler did not answer" in model.problem
        shell.run_cell("pass")
        assert "could not check" not in capsys.readouterr().err  # said once, not every cell
    shell.run_cell("pass")  # the cluster answers again
    assert model.problem is None


def test_configure_takes_options_as_words_or_flags(ip, tmp_path, monkeypatch, capsys):
    from processes import stop_local_scheduler

    monkeypatch.chdir(tmp_path)
    ip.run_line_magic("hipercow", "init . --driver local --option idle_timeout=30")
    ip.run_line_magic("hipercow", "configure local cluster=example --option idle_timeout=40")
    assert "Updated configuration for 'local'" in capsys.readouterr().out
    config = hc.hipercow_root().driver_config("local")
    assert config["idle_timeout"] == 40 and config["cluster"]["name"] == "example"
    with pytest.raises(UsageError, match="Invalid option 'idle_timeout': expected KEY=VALUE"):
        ip.run_line_magic("hipercow", "configure local idle_timeout")
    stop_local_scheduler(hc.hipercow_root())


def test_line_commands_take_several_ids_and_say_when_none_is_given(shell, capsys):
    first = submit(shell, "1")
    second = submit(shell, "2")
    assert finished(first.id) == "success" and finished(second.id) == "success"
    assert shell.run_line_magic("hipercow", f"wait {first.id[:8]} {second.id[:8]}") is True
    assert shell.run_line_magic("hipercow", f"result {first.id[:8]} h") == [1, 2]
    with pytest.raises(UsageError, match="'%hipercow info' needs at least one task id"):
        shell.run_line_magic("hipercow", "info")
    with pytest.raises(UsageError, match="No task id starts with"):
        shell.run_line_magic("hipercow", "info " + ("0000" if first.id[:4] != "0000" else "1111"))


def test_reuse_is_switched_off_with_config(shell, monkeypatch):
    monkeypatch.setattr(hc.options, "reuse", True)
    shell.run_cell("%config HipercowMagics.reuse = False")
    assert hc.options.reuse is False
    first = shell.run_cell("%%hipercow -o one\n6 * 7").error_in_exec
    assert first is None
    assert hc.task_wait(shell.user_ns["one"].id, timeout=30)
    shell.run_cell("%%hipercow -o two\n6 * 7")
    assert shell.user_ns["two"].id != shell.user_ns["one"].id  # run anew, not reused
    shell.run_cell("%config HipercowMagics.reuse = True")
    shell.run_cell("%%hipercow -o three\n6 * 7")  # tasks made without reuse have no key
    assert hc.task_wait(shell.user_ns["three"].id, timeout=30)
    shell.run_cell("%%hipercow -o four\n6 * 7")
    assert shell.user_ns["four"].id == shell.user_ns["three"].id  # reused
