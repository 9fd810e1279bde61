"""What a piece of code reads and assigns, and capturing those values with cloudpickle.

`analyse_code` follows Python's scoping: a name read at top level before it is
(definitely) assigned must come from the caller's namespace; names read inside
functions and lambdas are needed when they are called, so they are captured when
they exist and only required when the cell never assigns them itself.
"""

from __future__ import annotations

import ast
import builtins
import dataclasses

from hipercow_magic.core.errors import HipercowError

BUILTINS = frozenset(dir(builtins))
_SCOPES = (
    ast.FunctionDef,
    ast.AsyncFunctionDef,
    ast.Lambda,
    ast.ClassDef,
    ast.ListComp,
    ast.SetComp,
    ast.DictComp,
    ast.GeneratorExp,
)


@dataclasses.dataclass
class CodeAnalysis:
    """What a task's code reads and assigns, found by walking its syntax tree."""

    required: list[str]  # read before assignment: must exist in the namespace
    optional: list[str]  # read by functions, or after a conditional assignment
    exports: list[str]  # assigned at top level
    has_result: bool  # the last statement is an expression
    # builtin names read: sent when the caller has redefined them
    builtins: list[str] = dataclasses.field(default_factory=list)


def parse_code(code: str, filename: str = "<task>") -> ast.Module:
    """Parse `code`; a syntax error becomes a HipercowError with line and column."""
    if not isinstance(code, str):
        raise HipercowError(f"Expected code as a string, not {type(code).__name__}")
    try:
        return ast.parse(code, filename=filename)
    except SyntaxError as e:
        line = (e.text or "").rstrip("\n")
        pointer = f"\n    {line}\n    {' ' * max((e.offset or 1) - 1, 0)}^" if line else ""
        raise HipercowError(
            f"Syntax error in the task's code at line {e.lineno}, column {e.offset}: "
            f"{e.msg}{pointer}"
        ) from None


def _target_names(target: ast.AST) -> list[str]:
    return [
        n.id
        for n in ast.walk(target)
        if isinstance(n, ast.Name) and isinstance(n.ctx, (ast.Store, ast.Del))
    ]


def _bound_names(stmt: ast.stmt) -> set[str]:
    """Names a statement binds in its own scope (not inside nested scopes)."""
    out: set[str] = set()
    stack: list[ast.AST] = [stmt]
    while stack:
        node = stack.pop()
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            out.add(node.name)  # the body's names belong to its own scope
            continue
        if isinstance(
            node, (ast.Lambda, ast.ListComp, ast.SetComp, ast.DictComp, ast.GeneratorExp)
        ):
            for gen in getattr(node, "generators", []):
                for sub in ast.walk(gen.iter):
                    if isinstance(sub, ast.NamedExpr):
                        out.add(sub.target.id)
            continue
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
            out.add(node.id)
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            for alias in node.names:
                if alias.name != "*":
                    out.add((alias.asname or alias.name).split(".")[0])
        elif isinstance(node, ast.ExceptHandler) and node.name:
            out.add(node.name)
        elif isinstance(node, (ast.MatchAs, ast.MatchStar)) and node.name:
            out.add(node.name)
        elif isinstance(node, ast.MatchMapping) and node.rest:
            out.add(node.rest)
        stack.extend(ast.iter_child_nodes(node))
    return out


def _declared(body: list[ast.stmt], kind) -> set[str]:
    out: set[str] = set()
    for stmt in body:
        for node in ast.walk(stmt):
            if isinstance(node, kind):
                out.update(node.names)
    return out


class _ScopeReads:
    """Free names of a nested scope (function, lambda, class, comprehension)."""

    def __init__(self):
        self.globals_assigned: set[str] = set()

    def free(self, node: ast.AST) -> set[str]:
        if isinstance(node, ast.Lambda):
            params = self._params(node.args)
            return self._reads(node.body) - params
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            params = self._params(node.args)
            declared_global = _declared(node.body, ast.Global)
            declared_nonlocal = _declared(node.body, ast.Nonlocal)
            bound: set[str] = set()
            for stmt in node.body:
                bound |= _bound_names(stmt)
            self.globals_assigned |= bound & declared_global
            local = (params | bound) - declared_global - declared_nonlocal
            reads: set[str] = set()
            for stmt in node.body:
                reads |= self._reads(stmt)
            return (reads - local) | declared_nonlocal
        if isinstance(node, ast.ClassDef):
            bound = set()
            reads = set()
            for stmt in node.body:
                reads |= self._reads(stmt) - bound
                bound |= _bound_names(stmt)
            return reads
        # comprehension: targets are local; later iterators and conditions may use them
        local: set[str] = set()
        reads: set[str] = set()
        for gen in node.generators:
            reads |= self._reads(gen.iter) - local
            local |= set(_target_names(gen.target))
            for cond in gen.ifs:
                reads |= self._reads(cond) - local
        elts = [node.key, node.value] if isinstance(node, ast.DictComp) else [node.elt]
        for e in elts:
            reads |= self._reads(e) - local
        return reads

    @staticmethod
    def _params(args: ast.arguments) -> set[str]:
        names = [a.arg for a in args.posonlyargs + args.args + args.kwonlyargs]
        names += [a.arg for a in (args.vararg, args.kwarg) if a is not None]
        return set(names)

    def _reads(self, node: ast.AST) -> set[str]:
        """Loads in `node`, not descending into nested scopes except for their free names."""
        out: set[str] = set()
        stack = [node]
        while stack:
            n = stack.pop()
            if isinstance(n, _SCOPES):
                out |= self.free(n) | _scope_outer_reads(n, self)
                continue
            if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load):
                out.add(n.id)
            elif isinstance(n, ast.AugAssign) and isinstance(n.target, ast.Name):
                out.add(n.target.id)
            stack.extend(ast.iter_child_nodes(n))
        return out


def _scope_outer_reads(node: ast.AST, scopes: _ScopeReads) -> set[str]:
    """What a scope's definition evaluates in the enclosing scope (defaults, decorators, bases)."""
    parts: list[ast.AST] = []
    if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
        parts += [d for d in node.args.defaults + node.args.kw_defaults if d is not None]
    if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
        parts += node.decorator_list
    if isinstance(node, ast.ClassDef):
        parts += node.bases + [k.value for k in node.keywords]
    out: set[str] = set()
    for p in parts:
        out |= scopes._reads(p)
    return out


class _Flow:
    """Walks top-level statements in order, tracking definitely and possibly assigned names."""

    def __init__(self):
        self.scopes = _ScopeReads()
        self.required: dict[str, None] = {}
        self.optional: dict[str, None] = {}
        self.deferred: dict[str, None] = {}

    def read(self, names, definite: set[str], maybe: set[str]) -> None:
        for name in names:
            if name in definite:
                continue
            if name in maybe:
                self.optional.setdefault(name)
            else:
                self.required.setdefault(name)

    def expr(self, node: ast.AST, definite: set[str], maybe: set[str]) -> None:
        """Reads of an expression evaluated now; function bodies are deferred."""
        stack = [node]
        while stack:
            n = stack.pop()
            if isinstance(n, (ast.Lambda,)):
                self.read(_scope_outer_reads(n, self.scopes), definite, maybe)
                for name in self.scopes.free(n):
                    self.deferred.setdefault(name)
                continue
            if isinstance(n, (ast.ListComp, ast.SetComp, ast.DictComp, ast.GeneratorExp)):
                self.read(self.scopes.free(n), definite, maybe)
                continue
            if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load):
                self.read([n.id], definite, maybe)
            stack.extend(ast.iter_child_nodes(n))

    def block(self, body: list[ast.stmt], definite: set[str], maybe: set[str]) -> set[str]:
        """Process statements; returns the names definitely assigned afterwards."""
        definite = set(definite)
        for stmt in body:
            definite = self.stmt(stmt, definite, maybe)
            maybe |= _bound_names(stmt)
        return definite

    def stmt(self, s: ast.stmt, definite: set[str], maybe: set[str]) -> set[str]:
        if isinstance(s, (ast.FunctionDef, ast.AsyncFunctionDef)):
            self.read(_scope_outer_reads(s, self.scopes), definite, maybe)
            for name in self.scopes.free(s):
                self.deferred.setdefault(name)
            maybe |= self.scopes.globals_assigned
            return definite | {s.name}
        if isinstance(s, ast.ClassDef):
            self.read(_scope_outer_reads(s, self.scopes), definite, maybe)
            body_reads = self.scopes.free(s)
            self.read(body_reads, definite, maybe)
            for item in s.body:
                if isinstance(item, (ast.FunctionDef, ast.AsyncFunctionDef)):
                    for name in self.scopes.free(item):
                        self.deferred.setdefault(name)
            return definite | {s.name}
        if isinstance(s, ast.AugAssign):
            self.expr(s.value, definite, maybe)
            if isinstance(s.target, ast.Name):
                self.read([s.target.id], definite, maybe)
            else:
                self.expr(s.target, definite, maybe)
            return definite | set(_target_names(s.target))
        if isinstance(s, (ast.Assign, ast.AnnAssign)):
            if s.value is not None:
                self.expr(s.value, definite, maybe)
            targets = s.targets if isinstance(s, ast.Assign) else [s.target]
            for t in targets:
                for sub in ast.walk(t):  # subscripts/attributes read their base
                    if isinstance(sub, (ast.Subscript, ast.Attribute)):
                        self.expr(sub.value, definite, maybe)
                        if isinstance(sub, ast.Subscript):
                            self.expr(sub.slice, definite, maybe)
            assigned = {n for t in targets for n in _target_names(t)}
            if isinstance(s, ast.AnnAssign) and s.value is None:
                assigned = set()
            return definite | assigned | self._walrus(s)
        if isinstance(s, ast.Delete):
            for t in s.targets:
                if isinstance(t, ast.Name):
                    self.read([t.id], definite, maybe)
                else:
                    self.expr(t, definite, maybe)
            return definite - {n for t in s.targets for n in _target_names(t)}
        if isinstance(s, (ast.Import, ast.ImportFrom)):
            return definite | _bound_names(s)
        if isinstance(s, (ast.For, ast.AsyncFor)):
            self.expr(s.iter, definite, maybe)
            targets = set(_target_names(s.target))
            self.block(s.body, definite | targets, maybe)
            self.block(s.orelse, definite, maybe)
            return definite
        if isinstance(s, ast.While):
            self.expr(s.test, definite, maybe)
            self.block(s.body, definite, maybe)
            self.block(s.orelse, definite, maybe)
            return definite
        if isinstance(s, ast.If):
            self.expr(s.test, definite, maybe)
            a = self.block(s.body, definite, maybe)
            b = self.block(s.orelse, definite, maybe)
            return definite | (a & b)
        if isinstance(s, (ast.With, ast.AsyncWith)):
            for item in s.items:
                self.expr(item.context_expr, definite, maybe)
            targets = {
                n
                for item in s.items
                if item.optional_vars is not None
                for n in _target_names(item.optional_vars)
            }
            return self.block(s.body, definite | targets, maybe)
        if isinstance(s, ast.Try) or type(s).__name__ == "TryStar":
            after_body = self.block(s.body, definite, maybe)
            results = [self.block(s.orelse, after_body, maybe)]
            for h in s.handlers:
                if h.type is not None:
                    self.expr(h.type, definite, maybe)
                results.append(
                    self.block(h.body, definite | ({h.name} if h.name else set()), maybe)
                )
            out = set.intersection(*results)
            return self.block(s.finalbody, out, maybe)
        if isinstance(s, ast.Match):
            self.expr(s.subject, definite, maybe)
            outs = []
            for case in s.cases:
                names = {
                    n.name
                    for n in ast.walk(case.pattern)
                    if isinstance(n, (ast.MatchAs, ast.MatchStar)) and n.name
                }
                for n in ast.walk(case.pattern):
                    if isinstance(n, ast.MatchValue):
                        self.expr(n.value, definite, maybe)
                    if isinstance(n, ast.MatchClass):
                        self.expr(n.cls, definite, maybe)
                if case.guard is not None:
                    self.expr(case.guard, definite | names, maybe)
                outs.append(self.block(case.body, definite | names, maybe))
            return definite | set.intersection(*outs) if outs else definite
        if isinstance(s, ast.Global):
            return definite
        # Expr, Return, Raise, Assert, Pass, Break, Continue, ...
        self.expr(s, definite, maybe)
        return definite | self._walrus(s)

    @staticmethod
    def _walrus(s: ast.stmt) -> set[str]:
        return {n.target.id for n in ast.walk(s) if isinstance(n, ast.NamedExpr)}


def analyse_code(code: str | ast.Module) -> CodeAnalysis:
    """Names `code` needs from its caller, and the names it assigns at top level."""
    tree = parse_code(code) if isinstance(code, str) else code
    flow = _Flow()
    flow.block(tree.body, set(), set())
    exports: dict[str, None] = {}
    for stmt in tree.body:
        for name in sorted(_bound_names(stmt)):
            exports.setdefault(name)
    exports.update(dict.fromkeys(sorted(flow.scopes.globals_assigned)))
    assigned = set(exports)
    read = [*flow.required, *flow.optional, *flow.deferred]
    shadowable = list(
        dict.fromkeys(n for n in read if n in BUILTINS and not n.startswith("__"))
    )  # (a module's own __name__, __doc__, ... are never sent)
    required = [n for n in flow.required if n not in BUILTINS]
    optional = [n for n in flow.optional if n not in BUILTINS and n not in flow.required]
    for name in flow.deferred:
        if name in BUILTINS or name in flow.required or name in optional:
            continue
        if name in assigned:
            optional.append(name)
        else:
            required.append(name)
    return CodeAnalysis(
        required=required,
        optional=optional,
        exports=list(exports),
        has_result=bool(tree.body) and isinstance(tree.body[-1], ast.Expr),
        builtins=shadowable,
    )
