"""The magics in a real terminal IPython (prompt_toolkit in a pseudo-terminal)."""

from __future__ import annotations

import os
import sys

import pytest
from processes import SOURCE

pexpect = pytest.importorskip("pexpect")


def terminal_ipython(folder):
    """A terminal IPython in a pseudo-terminal, with the extension loaded and a root on the
    local driver in `folder`, at its third prompt.
    """
    path = os.environ.get("PYTHONPATH")
    env = {
        **os.environ,
        "TERM": "xterm",
        "PROMPT_TOOLKIT_NO_CPR": "1",
        "PYTHONPATH": SOURCE + (os.pathsep + path if path else ""),
    }
    child = pexpect.spawn(
        sys.executable,
        [
            "-m",
            "IPython",
            "--no-banner",
            "--colors=NoColor",
            "--no-confirm-exit",
            "--HistoryManager.enabled=False",
        ],
        cwd=str(folder),
        env=env,
        encoding="utf-8",
        timeout=30,
        dimensions=(50, 200),
    )
    child.expect(r"In \[1\]:")
    child.sendline("%load_ext hipercow_magic")
    child.expect(r"In \[2\]:")
    child.sendline("%hipercow init . --driver local")
    child.expect(r"In \[3\]:")
    return child


def send_cell(child, *lines: str) -> None:
    """Type a multi-line cell and run it (Meta-Enter)."""
    for line in lines[:-1]:
        child.send(line + "\r")
    child.send(lines[-1] + "\x1b\r")


def test_values_arrive_while_the_terminal_waits_at_its_prompt(tmp_path):
    from processes import stop_local_scheduler

    import hipercow_magic as hc

    child = terminal_ipython(tmp_path)
    try:
        child.sendline("x = 20")
        child.expect(r"In \[4\]:")
        send_cell(child, "%%hipercow", "import time", "time.sleep(1)", "y = x + 1")
        child.expect("captured: x")
        child.expect(r"In \[5\]:")
        # Nothing more is typed: the values are set, and said, while the prompt waits.
        child.expect("set in the notebook: time, y", timeout=20)
        child.sendline("print('y is', y)")
        child.expect("y is 21")
        child.sendline("exit")
        child.expect(pexpect.EOF)
    finally:
        child.close(force=True)
        stop_local_scheduler(hc.hipercow_root(str(tmp_path)))


def test_a_cell_reading_a_pending_name_waits_and_ctrl_c_stops_only_the_wait(tmp_path):
    from processes import stop_local_scheduler

    import hipercow_magic as hc

    child = terminal_ipython(tmp_path)
    try:
        send_cell(child, "%%hipercow", "import time", "time.sleep(2)", "y = 21")
        child.expect(r"hipercow task ([0-9a-f]{8})")
        task = child.match.group(1)
        child.expect(r"In \[4\]:")
        child.sendline("print('y is', y)")  # typed at once: y has not arrived
        child.expect(f"waiting for task {task} to set `y`; interrupt to stop waiting")
        child.expect("y is 21")
        assert "waiting for task" not in child.before  # printed once, not refreshed
        child.expect(r"In \[5\]:")
        send_cell(child, "%%hipercow", "import time", "time.sleep(4)", "z = 'late'")
        child.expect(r"hipercow task ([0-9a-f]{8})")
        task = child.match.group(1)
        child.expect(r"In \[6\]:")
        child.sendline("print('z is', z)")
        child.expect(f"waiting for task {task} to set `z`")
        child.sendcontrol("c")
        child.expect(f"KeyboardInterrupt: stopped waiting for task {task}; it carries on")
        child.expect(r"In \[7\]:")
        # the task carries on; its values arrive while the prompt waits
        child.expect("set in the notebook: time, z", timeout=20)
        child.sendline("print('z is', z)")
        child.expect("z is late")
        child.sendline("exit")
        child.expect(pexpect.EOF)
    finally:
        child.close(force=True)
        stop_local_scheduler(hc.hipercow_root(str(tmp_path)))
