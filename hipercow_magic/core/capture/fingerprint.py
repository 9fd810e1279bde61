"""Fingerprints of what a task's code depends on, for reusing a task whose inputs are unchanged.

A fingerprint is a set of named parts, each a SHA-256 digest, e.g. "code" (the code's syntax
tree: comments and formatting do not count), "value:beta" (a captured value, by its pickled
bytes), "function:helper" / "class:Model" (a function or class defined in the notebook, by its
compiled code, defaults, closure and attributes, never by where it was written), and
"module:analysis/model.py" (a module of the root, by its file's content). Values are pickled
with cloudpickle as they would be sent, except that notebook functions and classes inside them
stand for their own parts, and code objects for their normalised digests. A function's part
names the parts of the globals it reads, so rebinding a name changes the function's part.
Sets of strings, numbers and bytes count in sorted order, so a key is the same in another
process.
"""

from __future__ import annotations

import ast
import enum
import hashlib
import io
import os
import pickle
import sys
import types

import cloudpickle
from cloudpickle import cloudpickle as _cloudpickle

from hipercow_magic.core.capture.analysis import parse_code
from hipercow_magic.core.capture.imports import code_imports, files_under, read_module, tree_imports


def digest(*chunks) -> str:
    """The SHA-256 hex digest of byte strings or buffers, each with its length first (so
    ("ab", "c") and ("a", "bc") differ).
    """
    h = hashlib.sha256()
    for chunk in chunks:
        data = chunk.encode() if isinstance(chunk, str) else chunk
        h.update(len(memoryview(data).cast("B")).to_bytes(8, "little"))
        h.update(data)
    return h.hexdigest()


def code_digest(code: str) -> str:
    """The digest of Python code's syntax tree: comments, blank lines, spacing, line breaks
    inside brackets and redundant parentheses don't change it.
    """
    return digest(ast.dump(parse_code(code)))


def _const(value) -> str:
    """A compiled constant as text that doesn't depend on the process (sets sorted)."""
    if isinstance(value, types.CodeType):
        return f"code {compiled_digest(value)}"
    if isinstance(value, tuple):
        return "(" + ",".join(_const(v) for v in value) + ")"
    if isinstance(value, frozenset):
        return "frozenset{" + ",".join(sorted(_const(v) for v in value)) + "}"
    return f"{type(value).__name__} {value!r}"


def compiled_digest(code: types.CodeType) -> str:
    """The digest of a code object's behaviour: its bytecode, names and constants (nested
    code too), without its file name or line numbers.
    """
    fields = (
        code.co_name,
        getattr(code, "co_qualname", code.co_name),
        code.co_argcount,
        code.co_posonlyargcount,
        code.co_kwonlyargcount,
        code.co_flags,
        code.co_names,
        code.co_varnames,
        code.co_freevars,
        code.co_cellvars,
    )
    return digest(
        repr(fields),
        code.co_code,
        getattr(code, "co_exceptiontable", b""),
        ",".join(_const(c) for c in code.co_consts),
    )


def _part_ref(name: str) -> str:
    """What a notebook function or class stands for inside a pickled value: its part's name
    (loading it back is never needed: fingerprints are only compared).
    """
    return name


def _by_reference(obj) -> bool:
    """Whether cloudpickle sends this function or class by reference (module and name)."""
    try:
        return bool(_cloudpickle._should_pickle_by_reference(obj))
    except Exception:
        return False


_SORTABLE = frozenset({str, int, float, bytes, bool})


def _sort_key(item) -> tuple:
    """How a set's element sorts: by type, then value (a TypeError for other types)."""
    if type(item) not in _SORTABLE:
        raise TypeError
    return type(item).__name__, item


class _Pickler(cloudpickle.Pickler):
    """cloudpickle, with notebook functions and classes replaced by their parts' names, code
    objects by their digests, and the root modules of what goes by reference noted.
    """

    def __init__(self, file, fingerprint: Fingerprint, buffers: list):
        super().__init__(file, protocol=5, buffer_callback=buffers.append)
        self.fingerprint = fingerprint

    def persistent_id(self, obj):
        """A set of strings, numbers or bytes in sorted order (a set's own order changes
        with each process's string hashing); None for everything else, pickled as sent.
        """
        kind = type(obj)
        if kind is not set and kind is not frozenset:
            return None
        try:
            return kind.__name__, tuple(sorted(obj, key=_sort_key))
        except TypeError:  # other elements: the set's own order
            return None

    def reducer_override(self, obj):
        """Stand-ins for code, notebook functions and classes; everything else as sent."""
        if obj is _part_ref:
            return super().reducer_override(obj)
        if type(obj) is types.CodeType:
            return _part_ref, (f"code {compiled_digest(obj)}",)
        is_class = isinstance(obj, type)
        if is_class or isinstance(obj, types.FunctionType):
            if _by_reference(obj):
                self.fingerprint.module_of(obj)
                return super().reducer_override(obj)
            return _part_ref, (self.fingerprint.definition(obj),)
        if isinstance(obj, types.ModuleType):
            self.fingerprint.module(obj)
        return super().reducer_override(obj)


class Fingerprint:
    """The parts of one task's fingerprint, gathered from its code, values and modules.

    Args:
        root_path: the root's folder: modules in files below it are parts, by content.
        search_path: folders where imports are looked for (default: sys.path, '' being the
            working directory, then the working directory).
    """

    def __init__(self, root_path: str, search_path: list[str] | None = None):
        self.root_path = os.path.realpath(root_path)
        here = os.getcwd()
        folders = sys.path if search_path is None else search_path
        self.search_path = [os.path.realpath(f or here) for f in [*folders, here]]
        self.parts: dict[str, str] = {}
        self._names: dict[int, str] = {}  # id(notebook function or class) -> its part's name
        self._keep: list = []  # what _names and _digests refer to, alive until the end
        self._digests: dict[int, str] = {}  # id(a named value) -> its digest

    # ---- values --------------------------------------------------------------------
    def value_digest(self, value) -> str:
        """The digest of a value as it would be pickled (large buffers hashed in place)."""
        if isinstance(value, types.ModuleType):
            return digest("module", self.module(value))
        out = io.BytesIO()
        buffers: list[pickle.PickleBuffer] = []
        _Pickler(out, self, buffers).dump(value)
        chunks = [out.getbuffer()]
        for buffer in buffers:
            try:
                chunks.append(buffer.raw())
            except BufferError:  # not contiguous: hash a copy
                chunks.append(bytes(buffer))
        return digest(*chunks)

    def add_values(self, values: dict) -> None:
        """Parts for the captured values: 'value:NAME', or the part of a notebook function
        or class captured under its own name (a captured function, under another name,
        is 'value:NAME' standing for its part).
        """
        for name, value in values.items():
            if self._is_definition(value) and getattr(value, "__name__", None) == name:
                self.definition(value)
            else:
                self.add(f"value:{name}", self._named_digest(value))

    def _named_digest(self, value) -> str:
        """A captured value's or global's digest, once for each object (a 100 MB array that
        the cell and its functions both read is hashed once).
        """
        known = self._digests.get(id(value))
        if known is None:
            known = self._digests[id(value)] = self.value_digest(value)
            self._keep.append(value)
        return known

    def add(self, name: str, value_digest: str) -> str:
        """Add a part; a name already used for another digest gets a number ('#2')."""
        base, n = name, 1
        while self.parts.get(name, value_digest) != value_digest:
            n += 1
            name = f"{base}#{n}"
        self.parts[name] = value_digest
        return name

    @staticmethod
    def _is_definition(value) -> bool:
        return isinstance(value, (type, types.FunctionType)) and not _by_reference(value)

    # ---- notebook functions and classes ----------------------------------------------
    def definition(self, obj) -> str:
        """The part's name of a notebook function or class (added with its globals' parts
        the first time); its digest covers its code, defaults, closure and attributes.
        """
        known = self._names.get(id(obj))
        if known is not None:
            return known
        kind = "class" if isinstance(obj, type) else "function"
        base = f"{kind}:{getattr(obj, '__qualname__', None) or obj.__name__}"
        name, n = base, 1
        while name in self.parts or name in self._names.values():
            n += 1
            name = f"{base}#{n}"
        self._names[id(obj)] = name  # before recursing: a recursive function names itself
        self._keep.append(obj)
        self.parts[name] = "…"  # reserved while its digest is computed
        own = self._class_state(obj) if kind == "class" else self._function_state(obj)
        self.parts[name] = digest(kind, own)
        return name

    def _function_state(self, fn: types.FunctionType) -> str:
        code = fn.__code__
        self.add_code_imports(code)
        cells = [c.cell_contents if _cell_set(c) else "<empty cell>" for c in fn.__closure__ or ()]
        reads = {}
        for global_name in _cloudpickle._extract_code_globals(code):
            if global_name in fn.__globals__:
                reads[global_name] = self._global_part(global_name, fn.__globals__[global_name])
        state = (
            fn.__name__,
            fn.__qualname__,
            fn.__module__,
            fn.__defaults__,
            fn.__kwdefaults__,
            cells,
            dict(fn.__dict__),
            reads,
        )
        return f"{compiled_digest(code)} {self.value_digest(state)}"

    def _class_state(self, cls: type) -> str:
        # what cloudpickle sends of a class's namespace (slots, caches and `__dict__` out)
        getstate = (
            _cloudpickle._enum_getstate
            if isinstance(cls, enum.EnumMeta)
            else _cloudpickle._class_getstate
        )
        members, _ = getstate(cls)
        members.pop("__firstlineno__", None)  # where it was written (Python 3.13+)
        state = (cls.__name__, cls.__qualname__, cls.__module__, cls.__bases__, type(cls))
        return self.value_digest((state, sorted(members.items(), key=lambda kv: kv[0])))

    def _global_part(self, name: str, value) -> str:
        """The part standing for a global a function reads: a notebook definition's own
        part, a module's, or 'value:NAME'.
        """
        if self._is_definition(value):
            return self.definition(value)
        if isinstance(value, types.ModuleType):
            return f"module {self.module(value)}"
        return self.add(f"value:{name}", self._named_digest(value))

    # ---- modules ------------------------------------------------------------------
    def module(self, module: types.ModuleType) -> str:
        """How a module counts: its root file's part, or its name (a package installed in
        the environment, which the environment's part covers).
        """
        path = self._root_file(getattr(module, "__file__", None))
        return self.root_module(path) if path else f"package {module.__name__}"

    def module_of(self, obj) -> None:
        """Note the module a function or class sent by reference comes from, if the root's."""
        module = sys.modules.get(getattr(obj, "__module__", None) or "")
        if module is not None:
            self.module(module)

    def _root_file(self, path: str | None) -> str | None:
        if not path:
            return None
        full = os.path.realpath(path)
        if not full.startswith(self.root_path + os.sep) or not os.path.isfile(full):
            return None
        return full

    def root_module(self, path: str) -> str:
        """The part 'module:RELATIVE/PATH.py' of a file of the root (its content), and those
        of the root's modules it imports, transitively.
        """
        name = f"module:{os.path.relpath(path, self.root_path)}"
        if name in self.parts:
            return name
        self.parts[name] = "…"  # reserved: modules may import each other
        content, tree = read_module(path)
        self.parts[name] = content
        if tree is not None:
            self.add_imports(tree, os.path.dirname(path))
        return name

    def add_imports(self, tree: ast.AST, folder: str | None = None) -> None:
        """The parts of the root's modules that `tree` imports (anywhere in it); relative
        imports are resolved from `folder` (the importing file's).
        """
        for level, module, names in tree_imports(tree):
            if not level:
                self._add_dotted(module, names)
            elif folder is not None:
                base = folder
                for _ in range(level - 1):
                    base = os.path.dirname(base)
                for found in files_under(base, module.split(".") if module else [], names):
                    self.root_module(found)

    def add_code_imports(self, code: types.CodeType) -> None:
        """The parts of the root's modules that compiled code imports when it runs (a
        function's `import` statements, nested functions' too).
        """
        for module, names in code_imports(code):
            self._add_dotted(module, names)

    def _add_dotted(self, dotted: str, names: list[str] = ()) -> None:
        """The root's files that importing `dotted` (and `from dotted import names`) runs."""
        words = dotted.split(".")
        loaded = [".".join(words[: i + 1]) for i in range(len(words))]
        loaded += [f"{dotted}.{name}" for name in names]
        # those imported here already, and those the import would find now
        candidates = [getattr(sys.modules.get(m), "__file__", None) for m in loaded]
        for folder in self.search_path:
            found = files_under(folder, words, names)
            if found:
                candidates += found
                break
        for path in candidates:
            path = self._root_file(path)
            if path:
                self.root_module(path)

    # ---- the key ------------------------------------------------------------------
    def key(self) -> str:
        """The digest of every part, with its name: equal keys, equal inputs."""
        return digest(*(f"{name}={value}" for name, value in sorted(self.parts.items())))


def _cell_set(cell) -> bool:
    try:
        cell.cell_contents  # noqa: B018 (an empty cell raises)
    except ValueError:
        return False
    return True
