"""The magics in a real terminal IPython (prompt_toolkit in a pseudo-terminal)."""

from __future__ import annotations

import os
import sys

import pytest
from processes import SOURCE

pexpect = pytest.importorskip("pexpect")


def test_values_arrive_while_the_terminal_waits_at_its_prompt(tmp_path):
    from processes import stop_local_scheduler

    import hipercow_magic as hc

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
        cwd=str(tmp_path),
        env=env,
        encoding="utf-8",
        timeout=30,
        dimensions=(50, 200),
    )
    try:
        child.expect(r"In \[1\]:")
        child.sendline("%load_ext hipercow_magic")
        child.expect(r"In \[2\]:")
        child.sendline("%hipercow init . --driver local")
        child.expect(r"In \[3\]:")
        child.sendline("x = 20")
        child.expect(r"In \[4\]:")
        for line in ("%%hipercow", "import time", "time.sleep(1)"):
            child.send(line + "\r")
        child.send("y = x + 1\x1b\r")  # Meta-Enter runs the cell
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
