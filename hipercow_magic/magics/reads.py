"""Which names a cell reads from the notebook, and the AST transformer that makes a cell
wait for the pending `%%hipercow` tasks that will set them.

IPython turns a cell's magics into calls (`get_ipython().run_cell_magic('hipercow', line,
body)`) before the transformer sees its syntax tree; the transformer reads those calls too:
`{expr}` or `$name` in a magic's line or a shell command, and a `%%hipercow` line's
`--bulk EXPR` and `--after VAR`, are evaluated in the notebook. The body of a `%%hipercow`
cell is the task's code: names it reads that pending tasks of this session will set are
imported by the task from theirs (see chains.py), so the cell does not wait for them.
"""

from __future__ import annotations

import ast
import re
import shlex

from hipercow_magic.core.capture import analyse_code

_EXPANDED = re.compile(r"\{([^{}]+)\}")  # IPython expands {expr} in magics' lines
_DOLLAR = re.compile(r"(?<!\$)\$([A-Za-z_][A-Za-z0-9_]*)")  # ... and $name
_LINE_ARGUMENT = {"run_line_magic": 1, "run_cell_magic": 1, "system": 0, "getoutput": 0}
WAIT_MODULE = "hipercow_magic.magics.waiting"
WAIT_FUNCTION = "wait_for_names"


def _free_names(tree: ast.Module) -> set[str]:
    """Names `tree` reads that it has not itself (definitely) assigned before."""
    analysis = analyse_code(tree)
    return set(analysis.required) | set(analysis.optional)


def _expanded_names(line: str) -> set[str]:
    """Names read by the `{expr}` and `$name` parts IPython expands in a magic's line."""
    names = set(_DOLLAR.findall(line)) if "$" in line else set()
    for expression in _EXPANDED.findall(line) if "{" in line else ():
        names |= _expression_names(expression)
    return names


def _expression_names(expression: str) -> set[str]:
    try:
        tree = ast.parse(expression.strip(), mode="eval")
    except SyntaxError:
        return set()
    return {n.id for n in ast.walk(tree) if isinstance(n, ast.Name)}


def _option_names(line: str) -> set[str]:
    """Names a `%%hipercow` line's options read in the notebook: `--bulk EXPR` evaluates
    its expression, `--after VAR` looks up its variables.
    """
    if "--bulk" not in line and "--after" not in line:
        return set()
    try:
        words = shlex.split(line)
    except ValueError:  # unbalanced quotes: the magic itself says what is wrong
        return set()
    names: set[str] = set()
    for word, following in zip(words, [*words[1:], ""]):
        option, joined, value = word.partition("=")
        value = value if joined else following
        if option == "--bulk":
            names |= _expression_names(value)
        elif option == "--after":
            names |= {w.strip() for w in value.split(",") if w.strip().isidentifier()}
    return names


def _constant(node: ast.AST) -> str | None:
    return node.value if isinstance(node, ast.Constant) and isinstance(node.value, str) else None


def code_reads(code: str) -> set[str]:
    """Names `code` (a `%%hipercow` cell's body) reads that it has not assigned before;
    none for code that does not parse (the magic reports it).
    """
    try:
        return _free_names(ast.parse(code))
    except SyntaxError:
        return set()


def _magic_names(tree: ast.Module, importable) -> set[str]:
    """Names read by the magics and shell commands in `tree` (IPython's calls for them);
    of a `%%hipercow` cell's code, those `importable()` does not give.
    """
    names: set[str] = set()
    imported = None
    for node in ast.walk(tree):
        if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)):
            continue
        index = _LINE_ARGUMENT.get(node.func.attr)
        if index is None or len(node.args) <= index:
            continue
        line = _constant(node.args[index])
        if line is not None:
            names |= _expanded_names(line)
        magic = _constant(node.args[0]) if node.args else None
        if node.func.attr == "run_cell_magic" and magic == "hipercow" and len(node.args) > 2:
            body = _constant(node.args[2])
            if line is not None:
                names |= _option_names(line)
            if body is not None:
                body_names = code_reads(body)
                if body_names:
                    imported = importable() if imported is None else imported
                    names |= body_names - imported
    return names


def cell_reads(tree: ast.Module, importable=frozenset) -> set[str]:
    """Names a cell (its tree after IPython's transformations) reads from the notebook:
    free names of its code and of its magics' lines, and of the code of its `%%hipercow`
    cells those but the names `importable()` gives (which such a cell imports from the tasks
    that will set them).
    """
    return _free_names(tree) | _magic_names(tree, importable)


class WaitForPending(ast.NodeTransformer):
    """Puts `wait_for_names(key, names)` first in a cell that reads names pending tasks set.

    `pending()` gives the names pending tasks will set; a cell costs one call of it when
    there are none. `importable()` gives those a `%%hipercow` cell's code imports instead of
    waiting for them. A failure here never stops a cell (IPython would drop the transformer).
    """

    def __init__(self, key: int, pending, importable=frozenset):
        super().__init__()
        self.key = key
        self.pending = pending
        self.importable = importable

    def visit_Module(self, node: ast.Module) -> ast.Module:  # noqa: N802 (ast's naming)
        """The cell's tree, with the wait first when it reads a pending name."""
        try:
            pending = self.pending()
            if not pending:
                return node
            names = sorted(cell_reads(node, self.importable) & pending)
            if names:
                node.body.insert(_first_statement(node), self._wait_call(names))
        except Exception:  # a tree the analysis cannot read runs as it is
            pass
        return node

    def _wait_call(self, names: list[str]) -> ast.stmt:
        module = ast.Call(
            func=ast.Name("__import__", ast.Load()),
            args=[ast.Constant(WAIT_MODULE)],
            keywords=[ast.keyword("fromlist", ast.List([ast.Constant(WAIT_FUNCTION)], ast.Load()))],
        )
        call = ast.Call(
            func=ast.Attribute(module, WAIT_FUNCTION, ast.Load()),
            args=[ast.Constant(self.key), ast.Tuple([ast.Constant(n) for n in names], ast.Load())],
            keywords=[],
        )
        statement = ast.Expr(call)
        for part in ast.walk(statement):
            part.lineno, part.col_offset = 1, 0
            part.end_lineno, part.end_col_offset = 1, 0
        return statement


def _first_statement(tree: ast.Module) -> int:
    """Where the wait goes: after any `from __future__` imports, which must come first."""
    index = 0
    for stmt in tree.body:
        if isinstance(stmt, ast.ImportFrom) and stmt.module == "__future__":
            index += 1
        else:
            break
    return index
