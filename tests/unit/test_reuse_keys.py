"""The fingerprint a cell's task is reused by: what changes it (values, notebook functions and
classes, modules of the root, the environment) and what does not (comments, formatting, where
a function was written); and a randomised run of edits where equal keys always mean equal
results of running the cell as a node would (cloudpickle there and back).
"""

from __future__ import annotations

import importlib
import random
import sys
import textwrap
import threading

import cloudpickle
import numpy as np
import pytest

import hipercow_magic as hc
from hipercow_magic.core import capture
from hipercow_magic.core.errors import HipercowError
from hipercow_magic.engine.create import Plan, capture_names
from hipercow_magic.engine.reuse import cell_fingerprint, differences

_cells = iter(range(1_000_000))


def run_cell(ns: dict, source: str) -> None:
    """Run notebook code in `ns` as a kernel does (each cell its own file name)."""
    exec(compile(textwrap.dedent(source), f"/tmp/ipykernel_0/cell-{next(_cells)}.py", "exec"), ns)


def notebook() -> dict:
    return {"__name__": "__main__"}


def fingerprint(root, code: str, ns: dict, environment: str = "default"):
    plan = Plan(root, None, None, None, None, environment)
    return cell_fingerprint(plan, code, ns, None)


def key(root, code: str, ns: dict, **kwargs) -> str:
    return fingerprint(root, code, ns, **kwargs).key()


def test_comments_blank_lines_and_spacing_keep_the_key(bare_root):
    ns = notebook()
    run_cell(ns, "beta = 2.5\nrows = [1, 2, 3]\n")
    plain = key(bare_root, "total = sum(rows) * beta\ntotal", ns)
    edited = [
        "total = sum(rows) * beta  # scaled\ntotal",
        "# sum them\n\ntotal = sum( rows )*beta\n\n\ntotal\n",
        "total = (sum(rows)\n         * beta)\ntotal",
        "total = sum(rows) * (beta)\n# the end\ntotal",
    ]
    for code in edited:
        assert key(bare_root, code, ns) == plain, code
    assert key(bare_root, "total = sum(rows) * beta\ntotal + 0", ns) != plain
    assert key(bare_root, "total = sum(rows) * beta", ns) != plain  # no value shown


def test_a_changed_captured_value_changes_the_key(bare_root):
    ns = notebook()
    run_cell(ns, "beta = 2.5\narr = __import__('numpy').arange(1_000_000.0)\n")
    code = "y = arr.sum() * beta"
    before = fingerprint(bare_root, code, ns)
    ns["beta"] = 2.5000001
    after = fingerprint(bare_root, code, ns)
    assert after.key() != before.key()
    assert differences(before.parts, after.parts) == ["the value of `beta` changed"]
    ns["beta"] = 2.5
    assert key(bare_root, code, ns) == before.key()
    ns["arr"] = ns["arr"].copy()
    ns["arr"][123_456] += 1
    changed = fingerprint(bare_root, code, ns)
    assert differences(before.parts, changed.parts) == ["the value of `arr` changed"]
    ns["arr"] = np.asfortranarray(np.arange(12.0).reshape(3, 4))  # not C-contiguous
    fortran = key(bare_root, code, ns)
    ns["arr"] = np.ascontiguousarray(ns["arr"])
    assert key(bare_root, code, ns) != fortran


def test_sets_count_by_their_elements_not_their_order(bare_root):
    ns = notebook()
    ns["labels"] = {"a", "b", "c"}
    first = key(bare_root, "n = len(labels)", ns)
    ns["labels"] = set(reversed(["a", "b", "c", *map(str, range(100))])) - set(map(str, range(100)))
    assert key(bare_root, "n = len(labels)", ns) == first
    ns["labels"] = {"a", "b", "d"}
    assert key(bare_root, "n = len(labels)", ns) != first
    ns["labels"] = frozenset({"a", "b", "c"})
    assert key(bare_root, "n = len(labels)", ns) != first
    ns["labels"] = ("a", "b", "c")
    assert key(bare_root, "n = len(labels)", ns) != first
    ns["labels"] = {("a", 1), ("b", 2)}  # elements that don't sort: as pickled
    assert key(bare_root, "n = len(labels)", ns) != first


def test_a_helper_defined_in_another_cell_counts_by_its_code(bare_root):
    ns = notebook()
    run_cell(ns, "scale = 3\ndef helper(x):\n    return x * scale\n")
    run_cell(ns, "def simulate(n):\n    return [helper(i) for i in range(n)]\n")
    code = "out = simulate(5)"
    first = fingerprint(bare_root, code, ns)
    assert {"function:simulate", "function:helper", "value:scale"} <= set(first.parts)
    # the same helper run again in a new cell, with a comment and blank lines: same key
    run_cell(ns, "\n\n# the helper\ndef helper(x):\n    # times scale\n    return x * scale\n")
    assert key(bare_root, code, ns) == first.key()
    run_cell(ns, "def helper(x):\n    return x * scale + 1\n")
    changed = fingerprint(bare_root, code, ns)
    assert differences(first.parts, changed.parts) == ["function `helper` changed"]
    run_cell(ns, "def helper(x):\n    return x * scale\n")
    ns["scale"] = 4  # a global the helper reads
    again = fingerprint(bare_root, code, ns)
    assert differences(first.parts, again.parts) == ["the value of `scale` changed"]


def test_rebinding_a_name_a_function_reads_changes_the_key(bare_root):
    ns = notebook()
    run_cell(ns, "def a(x):\n    return x + 1\ndef b(x):\n    return x + 2\n")
    run_cell(ns, "f, g = a, b\ndef both(x):\n    return f(x) * 10 + g(x)\n")
    code = "out = both(1)"
    first = key(bare_root, code, ns)
    ns["f"], ns["g"] = ns["b"], ns["a"]  # swapped: the same functions, read under other names
    assert key(bare_root, code, ns) != first


def test_classes_count_by_their_methods_and_attributes(bare_root):
    ns = notebook()
    run_cell(
        ns, "class Model:\n    rate = 0.1\n    def step(self, x):\n        return x * self.rate\n"
    )
    code = "out = Model().step(10)"
    first = fingerprint(bare_root, code, ns)
    run_cell(
        ns, "class Model:\n    rate = 0.2\n    def step(self, x):\n        return x * self.rate\n"
    )
    assert differences(first.parts, fingerprint(bare_root, code, ns).parts) == [
        "class `Model` changed"
    ]
    run_cell(
        ns, "class Model:\n    rate = 0.1\n    def step(self, x):\n        return x - self.rate\n"
    )
    assert differences(first.parts, fingerprint(bare_root, code, ns).parts) == [
        "function `Model.step` changed"
    ]
    run_cell(
        ns,
        "class Model:\n    rate = 0.1\n\n    def step(self, x):  # same\n        return x * self.rate\n",
    )
    assert key(bare_root, code, ns) == first.key()


@pytest.fixture
def root_package(bare_root, monkeypatch):
    """A package of the root, rk_analysis/ with model.py and a helper module it imports."""
    monkeypatch.syspath_prepend(bare_root.path)
    monkeypatch.setattr(sys, "dont_write_bytecode", True)
    package = bare_root.path + "/rk_analysis"
    import os

    os.makedirs(package)
    with open(f"{package}/__init__.py", "w") as f:
        f.write("")
    with open(f"{package}/model.py", "w") as f:
        f.write("from .constants import RATE\n\ndef fit(x):\n    return x * RATE\n")
    with open(f"{package}/constants.py", "w") as f:
        f.write("RATE = 2\n")
    yield package
    for name in [m for m in sys.modules if m.split(".")[0] == "rk_analysis"]:
        del sys.modules[name]


def test_modules_of_the_root_count_by_their_content(bare_root, root_package):
    ns = notebook()
    imported = "from rk_analysis.model import fit\nout = fit(3)"
    first = fingerprint(bare_root, imported, ns)
    assert {
        "module:rk_analysis/__init__.py",
        "module:rk_analysis/model.py",
        "module:rk_analysis/constants.py",
    } <= set(first.parts)
    # a function of the root's module captured from the notebook (sent by reference)
    run_cell(ns, "from rk_analysis.model import fit\n")
    captured = fingerprint(bare_root, "out = fit(3)", ns)
    assert "module:rk_analysis/constants.py" in captured.parts
    # a notebook function importing it when called
    run_cell(ns, "def fitted(x):\n    from rk_analysis import model\n    return model.fit(x)\n")
    inside = fingerprint(bare_root, "out = fitted(3)", ns)
    assert "module:rk_analysis/constants.py" in inside.parts
    with open(f"{root_package}/constants.py", "w") as f:
        f.write("RATE = 3\n")  # a module the module imports
    changed = fingerprint(bare_root, imported, ns)
    assert differences(first.parts, changed.parts) == ["module rk_analysis/constants.py changed"]
    assert key(bare_root, "out = fit(3)", ns) != captured.key()
    assert differences(inside.parts, fingerprint(bare_root, "out = fitted(3)", ns).parts) == [
        "module rk_analysis/constants.py changed"
    ]
    with open(f"{root_package}/constants.py", "w") as f:
        f.write("RATE = 2\n")
    assert key(bare_root, imported, ns) == first.key()  # same content, touched again


def test_the_environment_counts(bare_root, capsys):
    with open("setup_env.py", "w") as f:
        f.write("OFFSET = 1\n")
    ns = notebook()
    code = "out = 1"
    plain = fingerprint(bare_root, code, ns)
    hc.hipercow_environment_create("default", packages=["math"], root=bare_root)
    with_math = fingerprint(bare_root, code, ns)
    assert differences(plain.parts, with_math.parts) == ["the environment changed"]
    hc.hipercow_environment_create("extra", sources=["setup_env.py"], root=bare_root)
    extra = fingerprint(bare_root, code, ns, environment="extra")
    assert "module:setup_env.py" in extra.parts
    with open("setup_env.py", "w") as f:
        f.write("OFFSET = 2\n")
    edited = fingerprint(bare_root, code, ns, environment="extra")
    assert differences(extra.parts, edited.parts) == ["module setup_env.py changed"]
    assert key(bare_root, code, ns, environment="empty") not in {plain.key(), extra.key()}


def test_a_value_that_cannot_be_sent_is_the_usual_error(bare_root):
    ns = notebook()
    ns["lock"] = threading.Lock()
    with pytest.raises(HipercowError, match="Can't send variable 'lock'"):
        fingerprint(bare_root, "n = lock.locked()", ns)


# ---- randomised edits: equal keys, equal results ----------------------------------------
HELPER = "def helper(x{default}):\n{pad}    return x * {k} + beta{closure}\n"
CLASS = "class Acc:\n    def __init__(self, s):\n        self.s = s\n{pad}    def total(self, v):\n        return sum(v) + self.s * {m}\n"
MODULE = "SCALE = {n}\n\ndef scale(x):\n    return x * SCALE\n"
CODE = "{comment}out = {paren}helper(a){close} + rmod.scale(len(b)) + Acc({s}).total(b) + {c}{tail}"


class Cell:
    """A notebook's state: values, a helper, a class, a module of the root, and a cell."""

    def __init__(self, rng: random.Random, root):
        self.rng = rng
        self.root = root
        self.values = {"a": 1, "b": [1, 2, 3], "beta": 0.5}
        self.helper = {"k": 2, "default": "", "pad": "", "closure": ""}
        self.klass = {"m": 1, "pad": ""}
        self.module = {"n": 3}
        self.code = {"comment": "", "paren": "", "close": "", "s": 1, "c": 0, "tail": ""}
        self.ns = notebook()
        self.define()
        run_cell(self.ns, "import rmod\n")

    def define(self) -> None:
        for name, value in self.values.items():
            self.ns[name] = value
        run_cell(self.ns, HELPER.format(**self.helper))
        run_cell(self.ns, CLASS.format(**self.klass))
        with open(f"{self.root.path}/rmod.py", "w") as f:
            f.write(MODULE.format(**self.module))

    def source(self) -> str:
        return CODE.format(**self.code)

    def edit(self) -> bool:
        """One random edit; whether it can only be cosmetic."""
        r = self.rng
        choice = r.randrange(12)
        if choice == 0:
            self.code["comment"] = r.choice(["", "# run it\n", "\n\n# again\n"])
            self.code["tail"] = r.choice(["", "  # done", "\n"])
            return True
        if choice == 1:
            self.code["paren"], self.code["close"] = r.choice([("", ""), ("(", ")"), ("((", "))")])
            return True
        if choice == 2:
            self.helper["pad"] = r.choice(["", "    # scaled\n", "\n"])
            self.klass["pad"] = r.choice(["", "\n", "    # sum\n"])
            return True
        if choice == 3:
            self.values["a"] = r.randrange(5)
        elif choice == 4:
            b = list(self.values["b"])
            if b and r.random() < 0.5:
                b[r.randrange(len(b))] = r.randrange(5)
            else:
                b.append(r.randrange(5))
            self.values["b"] = b
        elif choice == 5:
            self.values["beta"] = r.choice([0.5, 0.25, 1.0, 1.5])
        elif choice == 6:
            self.helper["k"] = r.randrange(4)
        elif choice == 7:
            self.helper["default"] = r.choice(["", ", y=1", ", y=2"])
            self.helper["closure"] = r.choice(["", " + (lambda: 0)()", " + (lambda: 1)()"])
        elif choice == 8:
            self.klass["m"] = r.randrange(3)
        elif choice == 9:
            self.module["n"] = r.randrange(4)
        elif choice == 10:
            self.code["s"] = r.randrange(3)
        else:
            self.code["c"] = r.randrange(3)
        return False

    def run_as_a_node_does(self, code: str):
        """Send the captured values through cloudpickle into a fresh namespace and run the
        code there, with the module of the root as its file now says.
        """
        analysis = capture.analyse_code(code)
        sent = cloudpickle.dumps(capture_names(analysis, self.ns, set()))
        sys.modules.pop("rmod", None)  # the node imports it afresh
        importlib.invalidate_caches()
        node = {"__name__": "__main__", **cloudpickle.loads(sent)}
        exec(code, node)
        return node["out"]


def test_randomised_edits_never_reuse_a_different_result(bare_root, monkeypatch):
    monkeypatch.syspath_prepend(bare_root.path)
    monkeypatch.setattr(sys, "dont_write_bytecode", True)
    rng = random.Random(16)
    cell = Cell(rng, bare_root)
    results: dict[str, object] = {}
    keys_seen = set()
    previous = None
    cosmetic_hits = 0
    try:
        for _ in range(240):
            cosmetic = cell.edit()
            cell.define()
            code = cell.source()
            k = key(bare_root, code, cell.ns)
            result = cell.run_as_a_node_does(code)
            assert results.setdefault(k, result) == result, f"false reuse after {code!r}"
            if cosmetic and previous is not None:
                assert k == previous, f"a cosmetic edit missed: {code!r}"
                cosmetic_hits += 1
            keys_seen.add(k)
            previous = k
    finally:
        sys.modules.pop("rmod", None)
    assert cosmetic_hits >= 40
    assert len(keys_seen) >= 60  # the edits did change inputs, many times
    assert len(set(map(repr, results.values()))) >= 20


def test_a_name_imported_once_and_captured_now_is_said_as_such():
    upstream = "1a2b3c4d" + "0" * 24
    imported = (
        {"code": "c", "upstream": "u"},
        {"imports": {"a": upstream}, "depends_on": [upstream]},
    )
    captured = {"code": "c", "value:a": "v"}, {}
    assert differences(imported[0], captured[0], imported[1], captured[1]) == [
        "the value of `a` is no longer what task 1a2b3c4d set"
    ]
    assert differences(captured[0], imported[0], captured[1], imported[1]) == [
        "`a` now comes from task 1a2b3c4d"
    ]
    other = {"code": "c", "value:a": "v", "upstream": "w"}, {"depends_on": ["9" * 32]}
    assert differences(imported[0], other[0], imported[1], other[1]) == [
        "the value of `a` is no longer what task 1a2b3c4d set",
        "the tasks it depends on changed",  # it waits for another task now
    ]
