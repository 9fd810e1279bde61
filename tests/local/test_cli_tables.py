"""The `hipercow` command's tables and progress bars, run as the real command: plain columns
into a pipe (or with NO_COLOR), colours by state on a terminal (a pty) or with FORCE_COLOR,
and a progress bar while waiting on a terminal only."""

import contextlib
import os
import pty
import re
import select
import shutil
import signal
import subprocess
import sys

import pytest
from processes import SOURCE

import hipercow_magic as hc

ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")
RED_FAILURE = "\x1b[1;31mfailure"
GREEN_SUCCESS = "\x1b[32msuccess"


def hipercow_command() -> list[str]:
    """The installed `hipercow` command of this Python."""
    here = os.path.join(os.path.dirname(sys.executable), "hipercow")
    return [here if os.path.exists(here) else shutil.which("hipercow")]


def command_env(extra: dict | None = None) -> dict:
    env = {k: v for k, v in os.environ.items() if k not in ("FORCE_COLOR", "NO_COLOR")}
    return {**env, "PYTHONPATH": SOURCE, "COLUMNS": "160", **(extra or {})}


def hipercow(*args, cwd, env=None, input=None):
    """Run `hipercow ARGS` with its output into pipes."""
    return subprocess.run(
        [*hipercow_command(), *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        input=input,
        env=command_env(env),
        timeout=180,
    )


def hipercow_in_pty(*args, cwd, env=None, timeout=180) -> tuple[int, str]:
    """Run `hipercow ARGS` on a terminal (a pty for its output and error); its exit status
    and all it wrote there.
    """
    parent, child = pty.openpty()
    os.set_blocking(parent, False)
    proc = subprocess.Popen(
        [*hipercow_command(), *args],
        cwd=cwd,
        stdin=subprocess.DEVNULL,
        stdout=child,
        stderr=child,
        env=command_env({"TERM": "xterm-256color", **(env or {})}),
    )
    os.close(child)
    out = bytearray()
    while True:
        ready, _, _ = select.select([parent], [], [], timeout)
        if not ready:
            proc.kill()
            raise AssertionError(f"hipercow {' '.join(args)} wrote nothing for {timeout}s")
        try:
            chunk = os.read(parent, 65536)
        except OSError:  # EIO: the command has ended and closed the terminal
            break
        if not chunk:
            break
        out += chunk
    os.close(parent)
    return proc.wait(timeout=timeout), out.decode(errors="replace")


@pytest.fixture
def sweep(example_root):
    """A finished 3-row bundle 'sweep' of which the row k=0 fails."""
    bundle = hc.task_create_bulk_expr(
        "10 // k", [{"k": 1}, {"k": 2}, {"k": 0}], bundle_name="sweep"
    )
    assert not bundle.wait(timeout=120, fail_early=False)
    return bundle


def test_lists_are_plain_columns_into_a_pipe(sweep, example_root):
    listed = hipercow("task", "list", cwd=example_root.path)
    assert listed.returncode == 0, listed.stderr
    assert not ANSI.search(listed.stdout)
    header, *rows = listed.stdout.splitlines()
    assert header.split() == ["ID", "STATUS", "NAME", "CREATED", "FINISHED", "RAN", "FOR", "TYPE"]
    assert sorted(r.split()[1] for r in rows) == ["failure", "success", "success"]

    status = hipercow("bundle", "status", "sweep", cwd=example_root.path)
    assert not ANSI.search(status.stdout)
    lines = status.stdout.splitlines()
    assert lines[0].split() == ["ID", "STATUS", "ROW", "NODE", "WAITED", "RAN", "FOR", "NOTE"]
    by_row = {line.split()[2]: line for line in lines[1:]}
    assert set(by_row) == {"k=1", "k=2", "k=0"}
    assert by_row["k=0"].startswith(sweep.ids[2][:8] + "  failure  k=0")
    assert "ZeroDivisionError: integer division or modulo by zero" in by_row["k=0"]
    assert "ZeroDivisionError" not in by_row["k=1"]

    bundles = hipercow("bundle", "list", cwd=example_root.path)
    assert bundles.stdout.splitlines() == [
        "NAME   TASKS  STATUS   STATES",
        "sweep  3      failure  2 success, 1 failure",
    ]
    assert hipercow("bundle", "list", "--names", cwd=example_root.path).stdout == "sweep\n"


def test_force_color_colours_states_in_a_pipe(sweep, example_root):
    listed = hipercow("task", "list", cwd=example_root.path, env={"FORCE_COLOR": "1"})
    assert listed.returncode == 0, listed.stderr
    assert listed.stdout.count(RED_FAILURE) == 1 and listed.stdout.count(GREEN_SUCCESS) == 2
    assert sweep.ids[2][:8] in ANSI.sub("", listed.stdout)
    bundles = hipercow("bundle", "list", cwd=example_root.path, env={"FORCE_COLOR": "1"})
    assert "\x1b[32m2 success" in bundles.stdout and "\x1b[1;31m1 failure" in bundles.stdout


def test_a_terminal_gets_colours_unless_no_color(sweep, example_root):
    status, out = hipercow_in_pty("bundle", "status", "sweep", cwd=example_root.path)
    assert status == 0, out
    assert out.count(RED_FAILURE) == 1 and out.count(GREEN_SUCCESS) == 2
    assert "k=0" in ANSI.sub("", out)
    status, out = hipercow_in_pty(
        "bundle", "status", "sweep", cwd=example_root.path, env={"NO_COLOR": "1"}
    )
    assert status == 0 and not ANSI.search(out), out
    assert re.search(r"failure  k=0 ", out)


def test_waiting_on_a_terminal_draws_a_progress_bar(example_root):
    bundle = hc.task_create_bulk_expr(
        "import time\ntime.sleep(s)\n1 / s", [{"s": 1}, {"s": 2}, {"s": 0}], bundle_name="slow"
    )
    status, out = hipercow_in_pty("bundle", "wait", "slow", cwd=example_root.path)
    assert status == 1
    plain = ANSI.sub("", out)
    assert "━" in plain and "bundle 'slow'" in plain  # the bar
    assert re.search(r"\d:\d\d:\d\d", plain)  # time elapsed
    assert "\x1b[1;31m1 failure" in out  # counts by state, coloured
    assert "Error: Bundle 'slow' did not succeed" in plain  # failing early, at the first failure
    assert bundle.wait(timeout=120, fail_early=False) is False

    task = hc.task_create_expr("import time\ntime.sleep(1)\n'done'", namespace={})
    status, out = hipercow_in_pty("task", "wait", task.id[:8], cwd=example_root.path)
    plain = ANSI.sub("", out)
    assert status == 0, plain
    assert f"task {task.id[:8]}" in plain and "1/1" in plain and "1 success" in plain


def test_waiting_into_a_pipe_prints_lines_without_a_bar(example_root):
    task = hc.task_create_expr("21 * 2", namespace={})
    for env in ({}, {"FORCE_COLOR": "1"}):  # colours asked for: still no bar into a pipe
        waited = hipercow("task", "wait", task.id, cwd=example_root.path, env=env)
        assert waited.returncode == 0, waited.stderr
        assert "━" not in waited.stderr and not ANSI.search(waited.stderr)
        assert f"Task '{task.id[:8]}': success" in waited.stderr


def test_no_color_on_a_terminal_draws_the_bar_without_colours(example_root):
    task = hc.task_create_expr("import time\ntime.sleep(1)\n3", namespace={})
    status, out = hipercow_in_pty(
        "task", "wait", task.id, cwd=example_root.path, env={"NO_COLOR": "1"}
    )
    assert status == 0, out
    assert "━" in out and "1/1" in out and "1 success" in out
    assert not re.search(r"\x1b\[(?:\d+;)*(?:3[0-8]|9[0-7])[;m]", out)  # bold, but no colour


def test_a_coloured_table_into_a_closed_pipe_ends_quietly(sweep, example_root):
    for args in (["task", "list"], ["bundle", "status", "sweep"], ["bundle", "list"]):
        proc = subprocess.Popen(
            [*hipercow_command(), *args],
            cwd=example_root.path,
            env=command_env({"FORCE_COLOR": "1"}),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        proc.stdout.close()  # nobody reads: the first write meets a pipe whose reader has gone
        stderr = proc.stderr.read().decode()
        assert proc.wait(timeout=120) == 141 and stderr == "", (args, stderr)


def test_ctrl_c_stops_the_wait_with_a_line_and_the_task_runs_on(example_root):
    task = hc.task_create_expr("import time\ntime.sleep(600)", namespace={})
    assert task.wait(for_start=True, timeout=60)
    parent, child = pty.openpty()
    proc = subprocess.Popen(
        [*hipercow_command(), "task", "wait", task.id],
        cwd=example_root.path,
        stdin=child,
        stdout=child,
        stderr=child,
        env=command_env({"TERM": "xterm-256color"}),
    )
    os.close(child)
    seen = b""
    while b"0/1" not in seen:  # the bar is drawn: the wait has begun
        ready, _, _ = select.select([parent], [], [], 60)
        assert ready, seen
        seen += os.read(parent, 65536)
    proc.send_signal(signal.SIGINT)
    assert proc.wait(timeout=60) == 130
    with contextlib.suppress(OSError):
        while select.select([parent], [], [], 1)[0]:
            chunk = os.read(parent, 65536)
            if not chunk:
                break
            seen += chunk
    os.close(parent)
    text = ANSI.sub("", seen.decode(errors="replace"))
    assert "Interrupted (tasks keep running" in text and "Traceback" not in text
    assert hc.task_status(task.id) == "running"
    task.cancel()
