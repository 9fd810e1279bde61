import numpy as np
import pytest

from hipercow_magic import HipercowError
from hipercow_magic.core.capture import analyse_code, pack, pickle_values, unpack_locals
from hipercow_magic.core.format import format_bytes


@pytest.mark.parametrize(
    "code,required",
    [
        ("f(x)", ["f", "x"]),
        ("f(x, y, 2, z)", ["f", "x", "y", "z"]),
        ("cls.new(x)", ["cls", "x"]),
        ("a = 1\nf(a, x)", ["f", "x"]),
        ("a = a + 1\nf(a, x)", ["a", "f", "x"]),
        ("f(a, lambda x, b=2: x + a / b)", ["a", "f"]),
        ("x = 3\nimport math\nmath.sqrt(x)", []),
        ("print(len(x))", ["x"]),  # builtins are never captured
        ("def g(y):\n    return y * scale\ng(data)", ["data", "scale"]),
        ("t = [i * k for i in range(n) if i > lo]", ["k", "lo", "n"]),
        ("x += 1", ["x"]),
        ("for i in range(3):\n    total = total + i", ["total"]),
        ("if c:\n    z = 1\nprint(z)", ["c"]),
        ("del q", ["q"]),
        (
            "class A(Base):\n    v = w\n    def m(self):\n        return self.v + u\nA()",
            ["Base", "u", "w"],
        ),
        ("with open(p) as fh:\n    d = fh.read()\nd", ["p"]),
        ("d[k] = 1", ["d", "k"]),
        ("(y := 5)\ny", []),
        ("g = (v * 2 for v in vals)", ["vals"]),
        ("def f(n):\n    return f(n - 1) if n else 0\nf(3)", []),
        ("try:\n    import foo\nexcept ImportError:\n    foo = None\nfoo", []),
    ],
)
def test_required_names(code, required):
    assert sorted(analyse_code(code).required) == required


def test_functions_reading_names_the_cell_assigns_later_are_optional():
    a = analyse_code("def g(y):\n    return y * scale\nscale = 2\ng(data)")
    assert a.required == ["data"]
    assert a.optional == ["scale"]


def test_global_statement_assigns_at_top_level():
    a = analyse_code("def f():\n    global G\n    G = 1\nf()\nG")
    assert a.required == []
    assert "G" in a.exports and "f" in a.exports


def test_names_assigned_in_one_branch_are_optional():
    a = analyse_code("if c:\n    z = 1\nprint(z)")
    assert a.optional == ["z"]


def test_exports_and_result():
    a = analyse_code("import numpy as np\nx, (y, z) = 1, (2, 3)\nfor i in r: pass\nx + y")
    assert a.exports == ["np", "x", "y", "z", "i"]
    assert a.has_result
    assert not analyse_code("x = 1").has_result


def test_syntax_error_reports_line_and_column():
    with pytest.raises(HipercowError) as e:
        analyse_code("x = 1\ny = (2 +\n")
    assert "Syntax error in the task's code at line 2" in str(e.value)
    with pytest.raises(HipercowError, match="line 1, column 5"):
        analyse_code("x = = 1")


def test_pack_round_trip_with_out_of_band_buffers():
    import math

    arr = np.arange(100_000, dtype=float)
    entries, sizes = pickle_values({"arr": arr, "m": math, "f": lambda v: v * 2}, None)
    assert sizes["arr"] >= arr.nbytes
    values = unpack_locals(pack(entries))
    assert np.array_equal(values["arr"], arr)
    assert values["m"] is math
    assert values["f"](4) == 8


def test_size_guard_names_the_variable_and_setting():
    with pytest.raises(HipercowError) as e:
        pickle_values({"big": np.zeros(1_000_000)}, max_size=1_000_000)
    text = str(e.value)
    assert "Object too large to save with task: 'big' (8" in text
    assert "MB" in text and "max_size_local" in text


def test_unpicklable_names_the_variable_and_type():
    import threading

    with pytest.raises(HipercowError) as e:
        pickle_values({"lock": threading.Lock()}, None)
    assert "variable 'lock'" in str(e.value)
    assert "_thread.lock" in str(e.value)


def test_format_bytes():
    assert format_bytes(999) == "999 bytes"
    assert format_bytes(1000) == "1 kB"
    assert format_bytes(999_999) == "999.999 kB"
    assert format_bytes(1e9) == "1 GB"
