"""What code imports, found without running it: in a syntax tree (`import` statements
anywhere in it) or in compiled code (a function's), and which files below a folder an import
runs; with files' contents read as digests and parsed once for each content.
"""

from __future__ import annotations

import ast
import dis
import hashlib
import os
import types
from collections.abc import Iterator

_TREES: dict[str, ast.AST | None] = {}  # a file content's digest: its syntax tree (or None)


def read_module(path: str) -> tuple[str, ast.AST | None]:
    """A file's content digest (read every time: a file rewritten within the same clock tick
    keeps its modification time) and its syntax tree (parsed once for each content; None if
    it doesn't parse).
    """
    try:
        with open(path, "rb") as f:
            data = f.read()
    except OSError as e:
        return hashlib.sha256(f"unreadable: {e}".encode()).hexdigest(), None
    content = hashlib.sha256(data).hexdigest()
    if content not in _TREES:
        try:
            _TREES[content] = ast.parse(data, filename=path)
        except (SyntaxError, ValueError):
            _TREES[content] = None
    return content, _TREES[content]


def tree_imports(tree: ast.AST) -> Iterator[tuple[int, str, list[str]]]:
    """Each import in a syntax tree as (level, module, names): `import a.b` is (0, 'a.b',
    []), `from ..c import d` is (2, 'c', ['d']).
    """
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield 0, alias.name, []
        elif isinstance(node, ast.ImportFrom):
            yield node.level, node.module or "", [a.name for a in node.names if a.name != "*"]


def code_imports(code: types.CodeType) -> Iterator[tuple[str, list[str]]]:
    """Each absolute import compiled code makes when it runs (nested code's too), as
    (module, names imported from it).
    """
    module, names = None, []
    for instruction in dis.get_instructions(code):
        if instruction.opname == "IMPORT_NAME":
            if module:
                yield module, names
            module, names = instruction.argval, []
        elif instruction.opname == "IMPORT_FROM":
            names.append(instruction.argval)
    if module:  # ('' for a relative import, which a notebook's code can't make)
        yield module, names
    for const in code.co_consts:
        if isinstance(const, types.CodeType):
            yield from code_imports(const)


def files_under(folder: str, parts: list[str], names=()) -> list[str]:
    """The files importing the package path `parts` below `folder` runs: each package's
    `__init__.py`, the module itself, and submodules among `names`.
    """
    out = []
    here = folder
    for i, part in enumerate(parts):
        here = os.path.join(here, part)
        init = os.path.join(here, "__init__.py")
        if os.path.isfile(init):
            out.append(init)
        elif i == len(parts) - 1 and os.path.isfile(here + ".py"):
            out.append(here + ".py")
            return out
        elif not os.path.isdir(here):
            return out if i else []
    for name in names:
        module, package = os.path.join(here, name + ".py"), os.path.join(here, name, "__init__.py")
        for candidate in (module, package):
            if os.path.isfile(candidate):
                out.append(candidate)
    return out
