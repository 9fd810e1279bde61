"""Tracebacks: what the node writes (only the user's frames, a worker's under the task's) and
how it is shown (coloured as IPython colours a local traceback, in a terminal and in HTML,
the exception's line first).
"""

import html
import linecache
import re

from hipercow_magic.core import format as hipercow_format
from hipercow_magic.core.capture import (
    dumps_with_sources,
    loads_with_sources,
    pack,
    parse_code,
    pickle_values,
    unpack_locals,
)
from hipercow_magic.core.errors import HipercowError
from hipercow_magic.core.tracebacks import (
    RemoteTraceback,
    exception_lines,
    traceback_ansi,
    traceback_html,
    user_traceback,
    worker_traceback,
)

CELL = "/tmp/ipykernel_7/3.py"
SOURCE = (
    "def load(path):\n"
    "    return parse(path)\n"
    "\n"
    "def parse(path):\n"
    "    raise ValueError(f'<bad> & \"odd\" row in {path}')\n"
    "\n"
    "def shown(seconds):\n"
    "    return pretty_dt(seconds)\n"
)


def notebook_functions() -> dict:
    """Functions as a notebook cell defines them (their source in linecache, as IPython does)."""
    linecache.cache[CELL] = (len(SOURCE), None, SOURCE.splitlines(True), CELL)
    namespace = {"pretty_dt": hipercow_format.pretty_dt}
    exec(compile(SOURCE, CELL, "exec"), namespace)
    return namespace


def raised(fn, *args) -> BaseException:
    """The error `fn(*args)` raises, with a traceback that starts in `fn` (as a task's
    starts in its code).
    """
    try:
        fn(*args)
    except BaseException as e:
        return e.with_traceback(e.__traceback__.tb_next)
    raise AssertionError("nothing was raised")


def a_traceback() -> str:
    return user_traceback(raised(notebook_functions()["load"], "data.csv"))


def visible_text(block: str) -> str:
    """What a reader sees of an HTML block: its text, tags dropped, entities decoded."""
    return html.unescape(re.sub(r"<[^>]+>", "", block))


def test_the_users_frames_with_their_source_lines():
    trace = a_traceback()
    assert trace.startswith("Traceback (most recent call last):\n")
    assert f'  File "{CELL}", line 2, in load\n    return parse(path)\n' in trace
    assert f'  File "{CELL}", line 5, in parse\n' in trace
    assert "    raise ValueError(f'<bad> & \"odd\" row in {path}')\n" in trace
    assert trace.endswith('ValueError: <bad> & "odd" row in data.csv\n')


def test_hipercow_magics_own_frames_are_left_out():
    error = raised(notebook_functions()["shown"], "ten")  # fails inside hipercow_magic
    assert isinstance(error, TypeError)
    trace = user_traceback(error)
    assert re.findall(r'File "([^"]+)", line (\d+), in (\w+)', trace) == [(CELL, "8", "shown")]
    assert "hipercow_magic" not in trace
    assert trace.endswith(f"TypeError: {error}\n")


def test_an_error_of_ours_alone_keeps_its_frames_and_a_hipercow_error_is_its_message():
    fault = raised(hipercow_format.pretty_dt, "ten")
    assert "hipercow_magic/core/format.py" in user_traceback(fault)
    message = raised(parse_code, 1)
    assert user_traceback(message) == (
        "hipercow_magic.core.errors.HipercowError: Expected code as a string, not int\n"
    )


def test_chained_exceptions_are_all_shown():
    def wrap():
        try:
            notebook_functions()["load"]("x.csv")
        except ValueError as e:
            raise RuntimeError("could not load") from e

    trace = user_traceback(raised(wrap))
    first, second = trace.split(
        "\nThe above exception was the direct cause of the following exception:\n\n"
    )
    assert "in parse" in first and first.endswith("row in x.csv\n")
    assert "in wrap" in second and second.endswith("RuntimeError: could not load\n")


def test_a_workers_frames_follow_the_tasks_under_a_line_naming_the_worker():
    functions = notebook_functions()
    in_worker = raised(functions["load"], "w.csv")  # as the worker catches it
    parts = worker_traceback(in_worker, "worker 2")
    assert parts["frames"].startswith(f'  File "{CELL}", line 2, in load')

    def task_code():  # the task's side: the error comes back with the worker's frames
        error = ValueError(*in_worker.args)
        error.__cause__ = RemoteTraceback(**parts)
        raise error

    trace = user_traceback(raised(task_code))
    lines = trace.splitlines()
    assert lines[0] == "Traceback (most recent call last):"
    assert lines[1].endswith(", in task_code")
    worker = lines.index("  ── in worker 2 ──")
    assert lines[worker + 1] == f'  File "{CELL}", line 2, in load'
    assert trace.count("ValueError:") == 1 and lines[-1].startswith("ValueError: <bad>")
    assert "RemoteTraceback" not in trace


def test_ansi_colours_each_part_as_ipython_does():
    trace = a_traceback()
    coloured = traceback_ansi(trace)
    assert re.sub(r"\x1b\[[0-9;]*m", "", coloured) == trace
    assert f'File "\x1b[32m{CELL}\x1b[0m", line \x1b[32m5\x1b[0m, in \x1b[35mparse\x1b[0m' in (
        coloured
    )
    assert '\x1b[31mValueError\x1b[0m: \x1b[1m<bad> & "odd" row in data.csv\x1b[0m' in coloured
    assert "    return parse(path)\n" in coloured  # source lines as they are


def test_html_is_coloured_escaped_and_shows_the_exception_line_first():
    trace = a_traceback()
    block = traceback_html(trace)
    assert "<bad>" not in block and "&lt;bad&gt; &amp; &quot;odd&quot;" in block
    green = '<span style="color:var(--jp-ansi-green, #00a250)">'
    assert f"{green}{html.escape(CELL)}</span>" in block and f"{green}5</span>" in block
    assert '<span style="color:var(--jp-ansi-magenta, #d160c4)">parse</span>' in block
    red = re.search(
        r'<span style="color:var\(--jp-ansi-red, #e75c58\)[^"]*">ValueError</span>', block
    )
    assert red
    # The exception's line comes first, then the traceback in a box that starts at its end.
    head, box = block.split('<div class="hipercow-traceback-box"')
    assert visible_text(head) == 'ValueError: <bad> & "odd" row in data.csv'
    assert "flex-direction:column-reverse" in box and "overflow:auto" in box
    assert "max-height" in box
    # JupyterLab gives a <pre> overflow:auto, which would let it shrink and scroll from its top
    assert "flex:none;overflow:visible" in box
    assert visible_text(box.split(">", 1)[1]) == trace.rstrip("\n")
    assert "white-space:pre-wrap" in block and "var(--jp-code-font-family, monospace)" in block


def test_the_exception_lines_of_a_long_message():
    trace = user_traceback(raised(_raise_multiline))
    assert exception_lines(trace) == "hipercow_magic.core.errors.HipercowError: first\n  second"


def _raise_multiline():
    raise HipercowError("first\n  second")


def test_a_notebook_functions_source_travels_with_it():
    functions = notebook_functions()
    entries, _ = pickle_values({"load": functions["load"], "n": 3}, None)
    blob = pack(entries)
    job = dumps_with_sources((functions["shown"], (1,), {}))
    del linecache.cache[CELL]  # as in another process
    values = unpack_locals(blob)
    assert linecache.getline(CELL, 5) == SOURCE.splitlines(True)[4]
    assert values["load"].__code__.co_filename == CELL
    del linecache.cache[CELL]
    fn, args, _ = loads_with_sources(job)
    assert fn(*args) == "1.0s" and fn.__code__.co_filename == CELL
    assert linecache.getline(CELL, 8) == "    return pretty_dt(seconds)\n"
    assert f'File "{CELL}", line 5, in parse' in user_traceback(raised(values["load"], "x"))
