"""The `hipercow` command line, run as a real process."""

import contextlib
import io
import os
import re
import subprocess
import sys

import pytest
from processes import SOURCE, run_cli, stop_local_scheduler


def hipercow(*args, cwd, input=None, env=None):
    return run_cli(*args, cwd=cwd, input=input, env=env)


@pytest.fixture
def cli_root(tmp_path):
    out = hipercow("init", ".", "--driver", "local", "--cluster", "example", cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    assert "Initialised hipercow at '.'" in out.stdout
    assert "Configured hipercow to use 'local'" in out.stdout
    yield tmp_path
    from hipercow_magic.core.root import Root

    stop_local_scheduler(Root(str(tmp_path)))


def test_create_wait_result_log_info(cli_root):
    created = hipercow(
        "create", "print('from the cli')\n6 * 7", "--cores", "2", "--name", "answer", cwd=cli_root
    )
    assert created.returncode == 0, created.stderr
    task_id = created.stdout.strip()
    assert len(task_id) == 32
    waited = hipercow("task", "wait", task_id, "--timeout", "60", cwd=cli_root)
    assert waited.returncode == 0, waited.stderr
    assert hipercow("task", "status", task_id, cwd=cli_root).stdout.split() == [task_id, "success"]
    assert hipercow("task", "result", task_id, cwd=cli_root).stdout.strip() == "42"
    assert "from the cli" in hipercow("task", "log", task_id, cwd=cli_root).stdout
    info = hipercow("task", "info", task_id, cwd=cli_root).stdout
    assert f"task {task_id} (success)" in info and "Name: answer" in info
    assert "2 cores" in info
    listed = hipercow("task", "list", cwd=cli_root).stdout
    assert f"{task_id[:8]}  success  answer" in listed


def test_code_from_stdin_and_cluster_info(cli_root):
    created = hipercow("create", "-", cwd=cli_root, input="x = 1\nx + 1\n")
    task_id = created.stdout.strip()
    assert hipercow("task", "wait", task_id, cwd=cli_root).returncode == 0
    assert hipercow("task", "result", task_id, cwd=cli_root).stdout.strip() == "2"
    info = hipercow("cluster-info", cwd=cli_root).stdout
    assert "node-1" in info and "alltasks" in info and "max cores: 4" in info


def test_errors_are_one_line_without_traceback(cli_root):
    out = hipercow("create", "1", "--cores", "10", cwd=cli_root)
    assert out.returncode == 1
    assert out.stderr.startswith("Error: 10 is too many cores for this cluster.")
    assert "Traceback" not in out.stderr
    bad_id = hipercow("task", "status", "nonsense", cwd=cli_root)
    assert bad_id.returncode == 1 and "Invalid task identifier 'nonsense'" in bad_id.stderr
    shown = hipercow("task", "status", "nonsense", cwd=cli_root, env={"HIPERCOW_TRACEBACK": "1"})
    assert "Traceback" in shown.stderr
    nowhere = hipercow("task", "list", cwd=os.path.dirname(cli_root))
    assert nowhere.returncode == 1 and "Couldn't find hipercow root" in nowhere.stderr


def test_cancel_retry_bundle_and_purge(cli_root, monkeypatch):
    slow = hipercow("create", "import time\ntime.sleep(60)", cwd=cli_root).stdout.strip()
    out = hipercow("task", "cancel", slow, cwd=cli_root)
    assert f"Successfully cancelled '{slow}'" in out.stdout
    retried = hipercow("task", "retry", slow, cwd=cli_root).stdout.strip()
    assert len(retried) == 32 and retried != slow
    hipercow("task", "cancel", retried, cwd=cli_root)
    import hipercow_magic as hc

    monkeypatch.chdir(cli_root)
    bundle = hc.task_create_bulk_expr("i", [{"i": 1}, {"i": 2}], bundle_name="pair")
    assert hipercow("bundle", "wait", "pair", cwd=cli_root).returncode == 0
    assert (
        hipercow("bundle", "status", "pair", "--reduce", cwd=cli_root).stdout.strip() == "success"
    )
    assert hipercow("bundle", "result", "pair", cwd=cli_root).stdout.split() == ["1", "2"]
    assert "pair" in hipercow("bundle", "list", cwd=cli_root).stdout
    dry = hipercow("purge", "--status", "success", "--dry-run", cwd=cli_root)
    assert "Would purge 2 tasks" in dry.stdout
    purged = hipercow("purge", "--status", "success", cwd=cli_root)
    assert "Purging 2 tasks" in purged.stdout and "Deleting 1 task bundle" in purged.stdout
    assert bundle.ids[0] not in hipercow("task", "list", cwd=cli_root).stdout


def test_environment_commands(cli_root):
    (cli_root / "setup.py").write_text("GREETING = 'hello'\n")
    made = hipercow(
        "environment",
        "create",
        "greet",
        "--sources",
        "setup.py",
        "--globals",
        "GREETING",
        cwd=cli_root,
    )
    assert made.returncode == 0, made.stderr
    assert hipercow("environment", "list", cwd=cli_root).stdout.split() == [
        "default",
        "empty",
        "greet",
    ]
    task_id = hipercow(
        "create", "GREETING.upper()", "--environment", "greet", cwd=cli_root
    ).stdout.strip()
    assert hipercow("task", "wait", task_id, cwd=cli_root).returncode == 0
    assert hipercow("task", "result", task_id, cwd=cli_root).stdout.strip() == "HELLO"
    refused = hipercow("environment", "delete", "empty", cwd=cli_root)
    assert refused.returncode == 1 and "Traceback" not in refused.stderr
    assert hipercow("provision", "list", cwd=cli_root).returncode == 0


def test_hold_until_a_date_and_ids_by_their_first_characters(cli_root):
    created = hipercow(
        "create", "1", "--hold-until", "2030-01-31T18:00", "--name", "later", cwd=cli_root
    )
    assert created.returncode == 0, created.stderr
    task_id = created.stdout.strip()
    status = hipercow("task", "status", task_id[:8], cwd=cli_root)
    assert status.returncode == 0, status.stderr
    assert status.stdout.split() == [task_id, "submitted"]
    info = hipercow("task", "info", task_id[:8], cwd=cli_root).stdout
    assert f"task {task_id} (submitted)" in info
    assert "held until 2030-01-31 18:00" in info
    cancelled = hipercow("task", "cancel", task_id[:4].upper(), cwd=cli_root)
    assert f"Successfully cancelled '{task_id}'" in cancelled.stdout
    assert hipercow("task", "status", cwd=cli_root).stdout.strip() == "1 task: 1 cancelled"


def test_ids_too_short_unknown_or_shared_are_refused_clearly(cli_root):
    import shutil

    from hipercow_magic.core.root import Root

    first = hipercow("create", "1", cwd=cli_root).stdout.strip()
    assert hipercow("task", "wait", first, cwd=cli_root).returncode == 0
    # a second task whose id starts like the first's
    twin = first[:6] + ("0" if first[6] != "0" else "1") + first[7:]
    root = Root(str(cli_root))
    shutil.copytree(root.task_dir(first), root.task_dir(twin))
    shared = hipercow("task", "status", first[:6], cwd=cli_root)
    assert shared.returncode == 1
    assert f"Error: 2 task ids start with '{first[:6]}':\n" in shared.stderr
    assert "Give more characters of the one you mean." in shared.stderr
    assert hipercow("task", "status", first[:7], cwd=cli_root).stdout.split() == [
        first,
        "success",
    ]
    unknown = "0000" if not first.startswith("0000") else "1111"
    absent = hipercow("task", "result", unknown, cwd=cli_root)
    assert absent.returncode == 1 and f"No task id starts with '{unknown}'" in absent.stderr
    short = hipercow("task", "status", first[:3], cwd=cli_root)
    assert short.returncode == 1 and f"Invalid task identifier '{first[:3]}'" in short.stderr
    assert "first 4 or more characters" in short.stderr
    empty = hipercow("task", "info", cwd=cli_root)
    assert "'hipercow task info' needs at least one task id" in empty.stderr


def test_configure_takes_options_as_words_or_flags(cli_root):
    out = hipercow(
        "configure", "local", "cluster=example", "--option", "idle_timeout=45", cwd=cli_root
    )
    assert out.returncode == 0, out.stderr
    assert "Updated configuration for 'local'" in out.stdout
    from hipercow_magic.core.root import Root

    config = Root(str(cli_root)).driver_config("local")
    assert config["idle_timeout"] == 45 and config["cluster"]["name"] == "example"
    bad = hipercow("configure", "local", "idle_timeout", cwd=cli_root)
    assert bad.returncode == 1
    assert "Invalid option 'idle_timeout': expected KEY=VALUE" in bad.stderr


def test_help_lists_every_option_with_its_meaning(cli_root):
    out = hipercow("create", "-h", cwd=cli_root).stdout
    assert "--hold-until WHEN" in out and "2030-01-31T18:00" in out
    assert "--envvar NAME=VALUE" in out and "(repeatable)" in out
    configure = hipercow("configure", "-h", cwd=cli_root).stdout
    assert "KEY=VALUE" in configure and "--option KEY=VALUE" in configure


def test_task_list_has_a_header_clock_times_and_ids_for_scripts(cli_root):
    done = hipercow("create", "6 * 7", "--name", "answer", cwd=cli_root).stdout.strip()
    failed = hipercow("create", "1 / 0", cwd=cli_root).stdout.strip()
    held = hipercow("create", "1", "--hold-until", "2030-01-31", cwd=cli_root).stdout.strip()
    for task_id in (done, failed):
        hipercow("task", "wait", task_id, "--timeout", "60", cwd=cli_root)
    out = hipercow("task", "list", cwd=cli_root)
    assert out.returncode == 0, out.stderr
    header, *rows = out.stdout.splitlines()
    assert header.split() == ["ID", "STATUS", "NAME", "CREATED", "FINISHED", "RAN", "FOR", "TYPE"]
    assert len(rows) == 3
    starts = [m.start() for m in re.finditer(r"\S+( \S+)?", header)]  # "RAN FOR" is one
    table = {}
    for row in rows:
        cells = [row[a:b].strip() for a, b in zip(starts, [*starts[1:], None])]
        table[cells[0]] = dict(
            zip(["status", "name", "created", "finished", "ran", "type"], cells[1:])
        )
    clock = re.compile(r"\d\d:\d\d:\d\d")  # today's tasks: the time of day
    duration = re.compile(r"\d+ms|\d+(\.\d)?s")
    answer, error, later = table[done[:8]], table[failed[:8]], table[held[:8]]
    assert (answer["status"], answer["name"], answer["type"]) == ("success", "answer", "expression")
    assert (error["status"], error["name"]) == ("failure", "")
    assert (later["status"], later["finished"], later["ran"]) == ("submitted", "", "")
    for row in (answer, error):
        assert clock.fullmatch(row["created"]) and clock.fullmatch(row["finished"]), row
        assert duration.fullmatch(row["ran"]), row
    assert clock.fullmatch(later["created"]) and rows[0].startswith(held[:8])  # newest first
    ids = hipercow(
        "task", "list", "--ids", "--status", "success", "--status", "failure", cwd=cli_root
    )
    assert sorted(ids.stdout.split()) == sorted([done, failed])
    none = hipercow("task", "list", "--status", "running", cwd=cli_root)
    assert none.returncode == 0 and none.stdout == "" and "No tasks match" in none.stderr


def test_output_into_a_closed_pipe_stops_quietly(cli_root, monkeypatch):
    import hipercow_magic as hc

    monkeypatch.chdir(cli_root)
    with contextlib.redirect_stdout(io.StringIO()):
        bundle = hc.task_create_bulk_expr(
            "x * 2", [{"x": i} for i in range(300)], root=str(cli_root)
        )
        chatty = hc.task_create_expr(
            "for i in range(20_000):\n    print('line', i, 'of the log')",
            namespace={},
            root=str(cli_root),
        )
        assert bundle.wait(timeout=300)
        assert chatty.wait(timeout=120)
    env = {**os.environ, "PYTHONPATH": SOURCE}
    for args in (
        ["task", "list", "-n", "0"],
        ["task", "list", "--ids", "-n", "0"],
        ["task", "log", chatty.id[:8]],
        ["bundle", "status", bundle.name],
    ):
        # nobody reads: the first write meets a pipe whose reader has gone
        proc = subprocess.Popen(
            [sys.executable, "-m", "hipercow_magic.cli", *args],
            cwd=cli_root,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        proc.stdout.close()
        stderr = proc.stderr.read().decode()
        assert proc.wait(timeout=120) in (0, 141), (args, stderr)
        assert stderr == "" or stderr.startswith("(") and "Traceback" not in stderr, (args, stderr)
    # as a shell user meets it: the output is far larger than the pipe's buffer
    shell = subprocess.run(
        [
            "bash",
            "-c",
            f"{sys.executable} -m hipercow_magic.cli task log {chatty.id[:8]} | head -1;"
            " echo status ${PIPESTATUS[0]}",
        ],
        cwd=cli_root,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert shell.stderr == "", shell.stderr
    first, status = shell.stdout.splitlines()
    assert status in ("status 0", "status 141") and first, shell.stdout


def test_a_missing_command_shows_the_commands_there_are(cli_root):
    top = hipercow(cwd=cli_root)
    assert top.returncode == 2 and top.stdout == ""
    assert "create       create a task from code" in top.stderr
    assert "task         look at and act on tasks" in top.stderr
    task = hipercow("task", cwd=cli_root)
    assert task.returncode == 2
    assert "list      the root's tasks, newest first" in task.stderr


def test_an_ambiguous_prefix_lists_the_tasks_it_could_mean(cli_root):
    import shutil

    from hipercow_magic.core.root import Root

    first = hipercow("create", "1", "--name", "one", cwd=cli_root).stdout.strip()
    assert hipercow("task", "wait", first, cwd=cli_root).returncode == 0
    twin = first[:6] + ("0" if first[6] != "0" else "1") + first[7:]
    root = Root(str(cli_root))
    shutil.copytree(root.task_dir(first), root.task_dir(twin))
    shared = hipercow("task", "result", first[:6], cwd=cli_root)
    assert shared.returncode == 1 and "Traceback" not in shared.stderr
    assert first in shared.stderr and twin in shared.stderr, shared.stderr


def test_the_result_of_a_failed_task_is_its_traceback_and_an_error(cli_root):
    code = "def explode():\n    raise ValueError('bad input')\n\nexplode()"
    failed = hipercow("create", code, cwd=cli_root).stdout.strip()
    fine = hipercow("create", "'fine'", cwd=cli_root).stdout.strip()
    for task_id in (failed, fine):
        hipercow("task", "wait", task_id, "--timeout", "60", cwd=cli_root)
    out = hipercow("task", "result", fine[:8], failed[:8], cwd=cli_root)
    assert out.returncode == 1
    assert out.stdout == "fine\n"
    traceback, error = out.stderr.split("\nError: ")
    assert traceback.startswith("Traceback (most recent call last):\n"), out.stderr
    assert "line 4, in <module>" in traceback and "raise ValueError('bad input')" in traceback
    assert traceback.endswith("ValueError: bad input") and "\x1b[" not in traceback
    assert error == (
        f"Task {failed[:8]} failed, with the error above; "
        f"'hipercow task log {failed[:8]}' shows the log\n"
    )
