"""The question provisioning asks when tasks use the environment, at a real terminal (a pty):
an answer, nobody answering (end of input), and a real error, which is not taken for nobody.
"""

import os
import subprocess
import sys

from processes import source_environment

ASK = """
from hipercow_magic.api.provision import _ask
try:
    print("answer:", _ask("Provision anyway? [y/N] "))
except Exception as e:
    print("raised:", type(e).__name__)
"""


def ask_in_a_terminal(typed: bytes) -> str:
    """What the question makes of `typed` at a UTF-8 terminal."""
    controller, terminal = os.openpty()
    try:
        proc = subprocess.Popen(
            [sys.executable, "-c", ASK],
            stdin=terminal,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            env=source_environment({"PYTHONIOENCODING": "utf-8:strict"}),
        )
        os.write(controller, typed)
        out, _ = proc.communicate(timeout=60)
    finally:
        os.close(terminal)
        os.close(controller)
    return out.decode().rsplit("] ", 1)[-1].strip()


def test_yes_and_no():
    assert ask_in_a_terminal(b"y\n") == "answer: True"
    assert ask_in_a_terminal(b"YES\n") == "answer: True"
    assert ask_in_a_terminal(b"no\n") == "answer: False"
    assert ask_in_a_terminal(b"\n") == "answer: False"


def test_end_of_input_means_nobody_answers():
    assert ask_in_a_terminal(b"\x04") == "answer: None"  # Ctrl-D


def test_other_errors_are_not_taken_for_nobody_to_ask():
    assert ask_in_a_terminal(b"\xff\n") == "raised: UnicodeDecodeError"
