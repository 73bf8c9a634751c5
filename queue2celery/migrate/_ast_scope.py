"""Scopes of one module read with the standard library's ``ast``: which assignments a name
refers to, the way libcst's ScopeProvider answers it (scan's facts must not depend on the
parser). Module, class, function, lambda and comprehension scopes; imports (relative,
aliased, ``import a.b``); ``global``/``nonlocal``; class bodies hidden from their methods;
an access sees the assignments of its own scope made before it (else the ones around).

Built in one pass (:class:`ScopeBuilder`) before the facts are collected; lookups are lazy.
"""

from __future__ import annotations

import ast
import builtins
from collections.abc import Callable, Iterator
from typing import Any

__all__ = ["Access", "Binding", "Scope", "ScopeBuilder", "build_scopes"]

IMPORT, BUILTIN, LOCAL = "import", "builtin", "local"
QName = tuple[str, str]  # (qualified name, source)


class Binding:
    """One assignment of ``name`` in ``scope``: ``node`` is an ``ast.Name`` target, an
    ``ast.arg``, a def, a class, an import statement (or None for a builtin)."""

    __slots__ = ("index", "kind", "name", "node", "scope")

    def __init__(self, name: str, scope: Scope, node: ast.AST | None, index: int, kind: str):
        self.name = name
        self.scope = scope
        self.node = node
        self.index = index
        self.kind = kind

    def qnames(self, full_name: str) -> set[QName]:
        if self.kind == BUILTIN:
            return {(f"builtins.{self.name}", BUILTIN)}
        if self.kind == IMPORT:
            assert isinstance(self.node, (ast.Import, ast.ImportFrom))
            return _import_qnames(self.node, full_name)
        prefix = self.scope.prefix
        return {(f"{prefix}.{full_name}" if prefix else full_name, LOCAL)}


def _import_qnames(node: ast.Import | ast.ImportFrom, full_name: str) -> set[QName]:
    module = ""
    if isinstance(node, ast.ImportFrom):
        module = "." * node.level + (node.module or "")
    for alias in node.names:
        if alias.name == "*":
            return set()
        parts = alias.name.split(".")
        for i in range(len(parts), 0, -1):
            real = as_name = ".".join(parts[:i])
            if module.endswith("."):
                real = f"{module}{real}"
            elif module:
                real = f"{module}.{real}"
            if alias.asname:
                as_name = alias.asname
            if full_name.startswith(as_name):
                rest = full_name.split(as_name, 1)[1]
                if rest and not rest.startswith("."):
                    continue
                rest = rest.lstrip(".")
                return {(f"{real}.{rest}" if rest else real, IMPORT)}
    return set()


class Scope:
    """``kind``: global, builtin, function (a def or a lambda), class, comprehension."""

    __slots__ = (
        "accesses",
        "assignments",
        "count",
        "kind",
        "name",
        "node",
        "overwrites",
        "parent",
        "prefix",
        "resolved",
        "top",
    )

    def __init__(self, kind: str, parent: Scope | None, node: ast.AST | None, name: str | None):
        self.kind = kind
        self.parent: Scope = parent if parent is not None else self
        self.node = node
        self.name = name
        self.assignments: dict[str, list[Binding]] = {}
        self.overwrites: dict[str, Scope] = {}
        self.accesses: list[Access] = []
        self.resolved: dict[str, list[Binding]] = {}  # filled once the scopes are built
        self.count = 0
        self.top: Scope = self if parent is None else parent.top  # the global scope
        last: list[str | None] = [name, "<locals>"]  # a function (a def or a lambda)
        if kind == "class":
            last = [name]
        elif kind == "comprehension":
            last = ["<comprehension>"]
        parts = [] if parent is None else [self.parent.prefix, *last]
        self.prefix: str = ".".join(p for p in parts if p)

    # -- libcst's rules --------------------------------------------------------------
    def visible_from_children(self) -> bool:
        return self.kind != "class"

    def next_visible_parent(self, first: Scope | None = None) -> Scope:
        parent = first if first is not None else self.parent
        while not parent.visible_from_children():
            parent = parent.parent
        return parent

    def assignment_target(self, name: str) -> Scope:
        if self.kind in ("global", "builtin"):
            return self
        if name in self.overwrites:
            return self.next_visible_parent(self.overwrites[name]).assignment_target(name)
        return self

    def __contains__(self, name: str) -> bool:
        if self.kind == "builtin":
            return hasattr(builtins, name)
        if self.kind != "global" and name in self.overwrites:
            return name in self.overwrites[name]
        if name in self.assignments:
            return True
        return name in self.next_visible_parent()

    def resolve(self, name: str) -> list[Binding]:
        """All assignments ``name`` may refer to from here (``scope[name]``)."""
        found = self.resolved.get(name)
        if found is None:
            found = self.resolved[name] = self._resolve(name)
        return found

    def _resolve(self, name: str) -> list[Binding]:
        if self.kind == "builtin":
            if name in self.assignments:
                return self.assignments[name]
            if hasattr(builtins, name):
                self.assignments[name] = [Binding(name, self, None, -1, BUILTIN)]
                return self.assignments[name]
            return []
        if self.kind != "global" and name in self.overwrites:
            return self.next_visible_parent(self.overwrites[name]).resolve(name)
        found = self.assignments.get(name)
        if found:
            return found
        return self.next_visible_parent().resolve(name)

    def bind(self, name: str, node: ast.AST, kind: str = LOCAL) -> None:
        target = self.assignment_target(name)
        target.assignments.setdefault(name, []).append(
            Binding(name, target, node, target.count, kind)
        )

    def qnames(self, full_name: str, node: ast.AST | None = None) -> set[QName]:
        """Qualified names of a dotted name read in this scope (not an access)."""
        prefix: str | None = full_name
        found: list[Binding] = []
        while prefix:
            if prefix in self:
                found = self.resolve(prefix)
                break
            idx = prefix.rfind(".")
            prefix = None if idx == -1 else prefix[:idx]
        if node is not None:
            for binding in found:
                if binding.node is node:
                    return binding.qnames(full_name)
        out: set[QName] = set()
        for binding in found:
            out |= binding.qnames(full_name)
        return out

    def function_path(self) -> str:
        """``Outer.Inner`` / ``f.<locals>.g`` (defs and classes only)."""
        parts: list[str] = []
        current: Scope = self
        while current.kind != "global" and current.kind != "builtin":
            if current.kind == "function" and isinstance(current.node, _DEFS):
                parts.insert(0, f"{current.name}.<locals>" if parts else str(current.name))
            elif current.kind == "class":
                parts.insert(0, str(current.name))
            current = current.parent
        return ".".join(parts)

    def encloses(self, inner: Scope) -> bool:
        scope = inner.parent
        while True:
            if scope is self:
                return True
            if scope.parent is scope:
                return False
            scope = scope.parent


class Access:
    """A name read (or deleted) in ``scope``; ``node`` is the ``ast.Name``, or the
    ``ast.Attribute`` of a dotted import it reads (``os.path`` after ``import os.path``)."""

    __slots__ = ("_referents", "index", "name", "node", "scope")

    def __init__(self, node: ast.AST, name: str, scope: Scope, index: int) -> None:
        self.node = node
        self.name = name
        self.scope = scope
        self.index = index
        self._referents: list[Binding] | None = None

    @property
    def referents(self) -> list[Binding]:
        if self._referents is None:
            scope = self.scope
            found = scope.resolve(self.name)
            previous = [b for b in found if b.scope is not scope or b.index < self.index]
            if not previous and found and scope.parent is not scope:
                previous = list(scope.parent.resolve(self.name))
            self._referents = previous
        return self._referents


_DEFS = (ast.FunctionDef, ast.AsyncFunctionDef)
_COMPS = (ast.ListComp, ast.SetComp, ast.DictComp, ast.GeneratorExp)
_COUNTED = (
    ast.Assign,
    ast.AnnAssign,
    ast.AugAssign,
    ast.Global,
    ast.Nonlocal,
    ast.Import,
    ast.ImportFrom,
)


class ScopeBuilder:
    """One pass over the module: scopes, assignments, accesses, and each Name/Attribute's
    scope (``scope_of``)."""

    def __init__(self) -> None:
        self.glob = Scope("global", None, None, None)
        builtin = Scope("builtin", None, None, None)
        self.glob.parent = builtin
        builtin.top = self.glob
        self.scope = self.glob
        self.scope_of: dict[int, Scope] = {}  # id(Name/Attribute) -> its scope
        self.function_scopes: dict[int, Scope] = {}  # id(def/lambda/class/comp) -> scope
        self.access_of: dict[int, Access] = {}  # id(node) -> the access at that node
        self.dotted = False  # some `import a.b` binds a dotted name
        self.defaults: dict[int, ast.expr] = {}  # id(ast.arg) -> its default
        self.all_accesses: list[Access] = []
        self._pending_tops: list[tuple[Access, ast.Attribute]] = []
        self._top: list[ast.Attribute | None] = [None]

    # -- walk -------------------------------------------------------------------------
    def visit(self, node: ast.AST) -> None:
        method = _METHODS.get(type(node))
        if method is not None:
            method(self, node)
        else:
            for child in ast.iter_child_nodes(node):
                self.visit(child)
        if isinstance(node, _COUNTED):
            self.scope.count += 1

    def _visit_all(self, nodes: list[ast.stmt] | list[ast.expr]) -> None:
        for node in nodes:
            self.visit(node)

    def v_Name(self, node: ast.Name) -> None:
        self.scope_of[id(node)] = self.scope
        if isinstance(node.ctx, ast.Store):
            self.scope.bind(node.id, node)
            return
        access = Access(node, node.id, self.scope, self.scope.count)
        self.scope.accesses.append(access)
        self.all_accesses.append(access)
        self.access_of[id(node)] = access
        top = self._top[-1]
        if top is not None:
            self._pending_tops.append((access, top))

    def v_Attribute(self, node: ast.Attribute) -> None:
        self.scope_of[id(node)] = self.scope
        if self._top[-1] is None:
            self._top[-1] = node
            self.visit(node.value)
            self._top[-1] = None
        else:
            self.visit(node.value)

    def v_Call(self, node: ast.Call) -> None:
        self._top.append(None)
        self.visit(node.func)
        for arg in _call_arguments(node):
            self.visit(arg)
        self._top.pop()

    def v_Import(self, node: ast.Import | ast.ImportFrom) -> None:
        for alias in node.names:
            if alias.name == "*":
                return
            if alias.asname:
                self.scope.bind(alias.asname, node, IMPORT)
                continue
            parts = alias.name.split(".")
            if len(parts) > 1:
                self.dotted = True
            for i in range(len(parts), 0, -1):
                self.scope.bind(".".join(parts[:i]), node, IMPORT)

    def v_Global(self, node: ast.Global | ast.Nonlocal) -> None:
        for name in node.names:
            if self.scope.kind not in ("global", "builtin"):
                self.scope.overwrites[name] = (
                    self.scope.top if isinstance(node, ast.Global) else self.scope.parent
                )

    def v_FunctionDef(self, node: ast.FunctionDef | ast.AsyncFunctionDef) -> None:
        outer = self.scope
        outer.bind(node.name, node)
        self.scope = inner = Scope("function", outer, node, node.name)
        self.function_scopes[id(node)] = inner
        self._parameters(node.args, outer)
        self._visit_all(node.body)
        self.scope = outer
        self._visit_all(node.decorator_list)
        if node.returns is not None:
            self.visit(node.returns)
        outer.count += 1

    def v_Lambda(self, node: ast.Lambda) -> None:
        outer = self.scope
        self.scope = inner = Scope("function", outer, node, None)
        self.function_scopes[id(node)] = inner
        self._parameters(node.args, outer)
        self.visit(node.body)
        self.scope = outer

    def _parameters(self, args: ast.arguments, outer: Scope) -> None:
        inner = self.scope
        for arg, default in iter_params(args):
            inner.bind(arg.arg, arg)
            self.scope = outer
            if default is not None:
                self.defaults[id(arg)] = default
                self.visit(default)
            if arg.annotation is not None:
                self.visit(arg.annotation)
            self.scope = inner
        inner.count += 1

    def v_ClassDef(self, node: ast.ClassDef) -> None:
        outer = self.scope
        outer.bind(node.name, node)
        self._visit_all(node.decorator_list)
        self._visit_all(node.bases)
        for keyword in node.keywords:
            self.visit(keyword.value)
        self.scope = inner = Scope("class", outer, node, node.name)
        self.function_scopes[id(node)] = inner
        self._visit_all(node.body)
        self.scope = outer
        outer.count += 1

    def v_comprehension(self, node: ast.ListComp) -> None:
        generators = node.generators
        first = generators[0]
        self.visit(first.iter)
        outer = self.scope
        self.scope = inner = Scope("comprehension", outer, node, None)
        self.function_scopes[id(node)] = inner
        self.visit(first.target)
        inner.count += 1
        self._visit_all(first.ifs)
        for generator in generators[1:]:
            self.visit(generator.target)
            self.visit(generator.iter)
            self._visit_all(generator.ifs)
        inner.count += len(generators) - 1
        if isinstance(node, ast.DictComp):
            self.visit(node.key)
            self.visit(node.value)
        else:
            self.visit(node.elt)
        self.scope = outer

    def v_For(self, node: ast.For | ast.AsyncFor) -> None:
        self.visit(node.target)
        self.scope.count += 1
        self.visit(node.iter)
        self._visit_all(node.body)
        self._visit_all(node.orelse)

    def v_NamedExpr(self, node: ast.NamedExpr) -> None:
        self.visit(node.target)
        self.visit(node.value)
        self.scope.count += 1

    def v_With(self, node: ast.With | ast.AsyncWith) -> None:
        for item in node.items:
            self.visit(item.context_expr)
            if item.optional_vars is not None:
                self.visit(item.optional_vars)
                self.scope.count += 1
            self.scope.count += 1
        self._visit_all(node.body)

    def v_ExceptHandler(self, node: ast.ExceptHandler) -> None:
        if node.type is not None:
            self.visit(node.type)
        if node.name:
            self.scope.bind(node.name, node)
            self.scope.count += 1
        self._visit_all(node.body)

    def v_Constant(self, node: ast.Constant) -> None:
        pass

    # -- end --------------------------------------------------------------------------
    def finish(self) -> None:
        """Dotted accesses: ``os.path.join`` after ``import os.path`` reads ``os.path``."""
        if not self.dotted:
            return
        for access, top in self._pending_tops:
            for name, node in dotted_names(top):
                if name in access.scope:
                    if node is not access.node:
                        del self.access_of[id(access.node)]
                        access.node = node
                        access.name = name
                        self.access_of[id(node)] = access
                    break


_METHODS: dict[type[ast.AST], Callable[[ScopeBuilder, Any], None]] = {
    ast.Name: ScopeBuilder.v_Name,
    ast.Attribute: ScopeBuilder.v_Attribute,
    ast.Call: ScopeBuilder.v_Call,
    ast.Import: ScopeBuilder.v_Import,
    ast.ImportFrom: ScopeBuilder.v_Import,
    ast.Global: ScopeBuilder.v_Global,
    ast.Nonlocal: ScopeBuilder.v_Global,
    ast.FunctionDef: ScopeBuilder.v_FunctionDef,
    ast.AsyncFunctionDef: ScopeBuilder.v_FunctionDef,
    ast.Lambda: ScopeBuilder.v_Lambda,
    ast.ClassDef: ScopeBuilder.v_ClassDef,
    ast.ListComp: ScopeBuilder.v_comprehension,
    ast.SetComp: ScopeBuilder.v_comprehension,
    ast.DictComp: ScopeBuilder.v_comprehension,
    ast.GeneratorExp: ScopeBuilder.v_comprehension,
    ast.For: ScopeBuilder.v_For,
    ast.AsyncFor: ScopeBuilder.v_For,
    ast.NamedExpr: ScopeBuilder.v_NamedExpr,
    ast.With: ScopeBuilder.v_With,
    ast.AsyncWith: ScopeBuilder.v_With,
    ast.ExceptHandler: ScopeBuilder.v_ExceptHandler,
    ast.Constant: ScopeBuilder.v_Constant,
}


def iter_params(args: ast.arguments) -> Iterator[tuple[ast.arg, ast.expr | None]]:
    """Parameters in source order with their defaults."""
    positional = [*args.posonlyargs, *args.args]
    defaults: list[ast.expr | None] = [None] * (len(positional) - len(args.defaults))
    defaults += args.defaults
    yield from zip(positional, defaults, strict=False)
    if args.vararg is not None:
        yield args.vararg, None
    yield from zip(args.kwonlyargs, args.kw_defaults, strict=False)
    if args.kwarg is not None:
        yield args.kwarg, None


def _call_arguments(node: ast.Call) -> list[ast.expr]:
    """A call's arguments (keyword values included) in source order."""
    return [n.value if isinstance(n, ast.keyword) else n for n in call_items(node)]


def call_items(node: ast.Call) -> list[ast.expr | ast.keyword]:
    """A call's positional and keyword arguments, in source order (libcst's ``args``)."""
    if not node.keywords:
        return list(node.args)
    if not node.args:
        return list(node.keywords)
    items: list[ast.expr | ast.keyword] = [*node.args, *node.keywords]
    items.sort(key=_source_order)
    return items


def _source_order(node: ast.expr | ast.keyword) -> tuple[int, int]:
    return node.lineno, node.col_offset


def dotted_names(node: ast.expr) -> Iterator[tuple[str, ast.expr]]:
    """``a.b.c`` -> ("a.b.c", node), ("a.b", node.value), ("a", Name)."""
    if isinstance(node, ast.Name):
        yield node.id, node
        return
    if not isinstance(node, ast.Attribute):
        return
    value = node.value
    if isinstance(value, ast.Call):
        value = value.func
        if isinstance(value, (ast.Attribute, ast.Name)):
            yield from dotted_names(value)
        return
    if isinstance(value, (ast.Attribute, ast.Name)):
        inner = dotted_names(value)
        first = next(inner, None)
        if first is None:
            return
        yield f"{first[0]}.{node.attr}", node
        yield first
        yield from inner


def full_name(node: ast.expr) -> str | None:
    parts: list[str] = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if not isinstance(node, ast.Name):
        return None
    parts.append(node.id)
    return ".".join(reversed(parts))


def build_scopes(tree: ast.Module) -> ScopeBuilder:
    builder = ScopeBuilder()
    for statement in tree.body:
        builder.visit(statement)
    builder.finish()
    return builder
