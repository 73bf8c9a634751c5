"""What a name in the source refers to, by meaning (``ast`` side of :mod:`._resolve`, same
answers): imports, aliases, relative imports, module attributes, ``self`` attributes, the
declared type of a local or parameter, and symbolic receivers for the cross-file linker.
"""

from __future__ import annotations

import ast
from collections.abc import Collection
from typing import NamedTuple

from ._ast_scope import (
    BUILTIN,
    IMPORT,
    LOCAL,
    Binding,
    QName,
    ScopeBuilder,
    _source_order,
    full_name,
)
from ._symbols import RET, STATE, TYPE

__all__ = ["Arg", "AstResolver", "cst_args"]


_SINGLETONS = (None, True, False)


class Arg(NamedTuple):
    """A call argument as libcst sees it: ``value`` without its ``*``/``**``."""

    keyword: str | None
    star: str  # "", "*" or "**"
    value: ast.expr


def cst_args(node: ast.Call) -> list[Arg]:
    """``node``'s arguments in source order (``ast`` keeps keywords apart)."""
    out: list[Arg] = []
    for arg in node.args:
        if isinstance(arg, ast.Starred):
            out.append(Arg(None, "*", arg.value))
        else:
            out.append(Arg(None, "", arg))
    if not node.keywords:
        return out
    for keyword in node.keywords:
        if keyword.arg is None:
            out.append(Arg(None, "**", keyword.value))
        else:
            out.append(Arg(keyword.arg, "", keyword.value))
    if node.args:
        positions: list[ast.expr | ast.keyword] = [*node.args, *node.keywords]
        order = sorted(range(len(out)), key=lambda i: _source_order(positions[i]))
        out = [out[i] for i in order]
    return out


class AstResolver:
    """Turns expressions into fully qualified names for one module."""

    def __init__(self, scopes: ScopeBuilder, module: str, is_package: bool) -> None:
        self.s = scopes
        self.module = module
        self.package = module if is_package else module.rpartition(".")[0]
        # id(target Name) -> the value assigned to it, or its annotation; filled as the
        # collector passes assignments (so only what comes before a use is known, as in libcst).
        self._assigned: dict[int, tuple[str, ast.expr]] = {}
        self._qnames: dict[int, Collection[QName]] = {}
        self._owners: dict[int, str | None] = {}
        self._fqns: dict[int, frozenset[str]] = {}

    def note_assignment(self, node: ast.Assign | ast.AnnAssign) -> None:
        if isinstance(node, ast.AnnAssign):
            if isinstance(node.target, ast.Name):
                self._assigned[id(node.target)] = ("annotation", node.annotation)
            return
        value = node.value
        if isinstance(value, (ast.Call, ast.Name, ast.Attribute)) or (
            isinstance(value, ast.Constant) and any(value.value is c for c in _SINGLETONS)
        ):
            kind = "call" if isinstance(node.value, ast.Call) else "alias"
            for target in node.targets:
                if isinstance(target, ast.Name):
                    self._assigned[id(target)] = (kind, node.value)

    def qnames(self, expr: ast.expr) -> Collection[QName]:
        """libcst's qualified names of a dotted name (other expressions have none); the
        scopes are complete before the facts are collected, so each node's are kept."""
        known = self._qnames.get(id(expr))
        if known is None:
            known = self._qnames[id(expr)] = self._compute_qnames(expr)
        return known

    def _compute_qnames(self, expr: ast.expr) -> Collection[QName]:
        inner = expr
        while isinstance(inner, ast.Attribute):
            inner = inner.value
        if isinstance(inner, ast.Constant) and any(inner.value is c for c in _SINGLETONS):
            # a Name in libcst, a builtin: `None.__class__` is named `builtins.None` too
            return {(f"builtins.{inner.value!s}", BUILTIN)}
        if not isinstance(inner, ast.Name):
            return ()
        scope = self.s.scope_of.get(id(expr))
        if scope is None:
            return ()
        access = self.s.access_of.get(id(expr))
        if access is not None:
            out: set[QName] = set()
            for referent in access.referents:
                out |= referent.qnames(referent.name)
            return out
        name = full_name(expr)
        return scope.qnames(name, expr) if name else ()

    def qualify(self, local: str) -> str:
        return f"{self.module}.{local}" if self.module else local

    def absolute(self, qname: QName) -> str | None:
        name, source = qname
        if source == IMPORT:
            if not name.startswith("."):
                return name
            dots = len(name) - len(name.lstrip("."))
            parts = self.package.split(".") if self.package else []
            if dots - 1 > len(parts) or not self.module:
                return None
            base = parts[: len(parts) - (dots - 1)]
            return ".".join([*base, name[dots:]]) if base else name[dots:]
        if source == BUILTIN:
            return name if name.startswith("builtins.") else f"builtins.{name}"
        if "<locals>" in name:
            return None
        return self.qualify(name)

    def callable_ids(self, expr: ast.expr) -> frozenset[str]:
        attr = self.self_attribute(expr)
        if attr is not None:
            return frozenset({attr})
        out = set()
        for qname in self.qnames(expr):
            if qname[1] == LOCAL:
                out.add(self.qualify(qname[0]))
            else:
                full = self.absolute(qname)
                if full:
                    out.add(full)
        return frozenset(out)

    def fqns(self, expr: ast.expr) -> frozenset[str]:
        known = self._fqns.get(id(expr))
        if known is None:
            known = self._fqns[id(expr)] = self._compute_fqns(expr)
        return known

    def _compute_fqns(self, expr: ast.expr) -> frozenset[str]:
        attr = self.self_attribute(expr)
        if attr is not None:
            return frozenset({attr})
        names = (self.absolute(q) for q in self.qnames(expr))
        return frozenset(n for n in names if n)

    def self_attribute(self, expr: ast.expr) -> str | None:
        if not (isinstance(expr, ast.Attribute) and isinstance(expr.value, ast.Name)):
            return None
        owner = self.method_class(expr.value)
        return f"{owner}.{expr.attr}" if owner else None

    def _bindings(self, name: ast.Name) -> list[Binding]:
        scope = self.s.scope_of.get(id(name))
        if scope is None or name.id not in scope:
            return []
        return scope.resolve(name.id)

    def method_class(self, name: ast.Name) -> str | None:
        if id(name) not in self._owners:
            self._owners[id(name)] = self._method_class(name)
        return self._owners[id(name)]

    def _method_class(self, name: ast.Name) -> str | None:
        bindings = self._bindings(name)
        if not bindings:
            return None
        owners = set()
        for binding in bindings:
            owner = self._first_param_class(binding)
            if owner is None:
                return None
            owners.add(owner)
        return owners.pop() if len(owners) == 1 else None

    def scope_binds(self, name: ast.Name, node_ids: Collection[int]) -> bool:
        return any(b.kind != BUILTIN and id(b.node) in node_ids for b in self._bindings(name))

    def _first_param_class(self, binding: Binding) -> str | None:
        if not isinstance(binding.node, ast.arg):
            return None
        scope = binding.scope
        node = scope.node
        if scope.kind != "function" or not isinstance(
            node, (ast.FunctionDef, ast.AsyncFunctionDef)
        ):
            return None
        params = node.args
        positional = params.posonlyargs or params.args
        first = positional[0] if positional else None
        if first is not binding.node or scope.parent.kind != "class":
            return None
        if any(_decorator_name(d) == "staticmethod" for d in node.decorator_list):
            return None
        path = scope.parent.function_path()
        return self.qualify(path) if path and "<locals>" not in path else None

    def declared_types(self, name: ast.Name) -> frozenset[str]:
        out: set[str] = set()
        for binding in self._bindings(name):
            node = binding.node
            if binding.kind == BUILTIN:
                continue
            if isinstance(node, ast.arg) and node.annotation is not None:
                out |= self.fqns(node.annotation)
            elif isinstance(node, ast.Name):
                out |= self._assigned_type(node)
        return frozenset(out)

    def _assigned_type(self, target: ast.Name) -> frozenset[str]:
        kind, expr = self._assigned.get(id(target), ("", None))
        if isinstance(expr, ast.Call):
            expr = expr.func
        return self.fqns(expr) if expr is not None and kind != "alias" else frozenset()

    # -- receivers ----------------------------------------------------------------------
    def receivers(self, expr: ast.expr, depth: int = 0) -> frozenset[str]:
        names = self.fqns(expr)
        if names or depth > 3:
            return names
        if isinstance(expr, ast.Attribute):
            if isinstance(expr.value, ast.Attribute) and expr.value.attr == "state":
                return frozenset({f"{STATE}{expr.attr}"})
            base = self.receivers(expr.value, depth + 1)
            return frozenset(f"{b}.{expr.attr}" for b in base if not b.startswith(TYPE))
        if isinstance(expr, ast.Call):
            return frozenset(RET + n for n in self.callable_ids(expr.func) if "<locals>" not in n)
        if isinstance(expr, ast.Name):
            return self._local_receivers(expr, depth)
        return frozenset()

    def _local_receivers(self, name: ast.Name, depth: int) -> frozenset[str]:
        out: set[str] = set()
        for binding in self._bindings(name):
            node = binding.node
            if binding.kind == BUILTIN:
                continue
            if isinstance(node, ast.arg):
                out |= self._param_receivers(node)
            elif isinstance(node, ast.Name):
                kind, expr = self._assigned.get(id(node), ("", None))
                if kind == "annotation" and expr is not None:
                    out |= self.annotation_types(expr)
                elif expr is not None:
                    out |= self.receivers(expr, depth + 1)
        return frozenset(out)

    def _param_receivers(self, param: ast.arg) -> set[str]:
        out: set[str] = set()
        if param.annotation is not None:
            out |= self.annotation_types(param.annotation)
        default = self.s.defaults.get(id(param))
        if isinstance(default, ast.Call) and "fastapi.Depends" in self.fqns(default.func):
            out |= self._depends(default)
        return out

    def _depends(self, call: ast.Call) -> set[str]:
        args = cst_args(call)
        if args and args[0].keyword is None:
            return {RET + n for n in self.callable_ids(args[0].value)}
        return set()

    def annotation_types(self, annotation: ast.expr) -> set[str]:
        """``C``, ``C | None``, ``Optional[C]``, ``Annotated[C, Depends(f)]`` -> ``@type:C``
        (and ``@ret:f``)."""
        if isinstance(annotation, ast.BinOp):
            return self.annotation_types(annotation.left) | self.annotation_types(annotation.right)
        if isinstance(annotation, ast.Subscript):
            outer = self.fqns(annotation.value)
            index = annotation.slice
            elements = index.elts if isinstance(index, ast.Tuple) else [index]
            inner = [e for e in elements if not isinstance(e, ast.Slice)]
            if outer & {"typing.Optional", "typing.Union"}:
                return set().union(*(self.annotation_types(i) for i in inner))
            if outer & {"typing.Annotated", "typing_extensions.Annotated"} and inner:
                out = self.annotation_types(inner[0])
                for extra in inner[1:]:
                    if isinstance(extra, ast.Call) and "fastapi.Depends" in self.fqns(extra.func):
                        out |= self._depends(extra)
                return out
            return set()
        if isinstance(annotation, ast.Constant) and isinstance(annotation.value, str):
            return self._forward_ref(annotation.value)
        return {TYPE + n for n in self.fqns(annotation) if not n.startswith("builtins.")}

    def _forward_ref(self, text: str) -> set[str]:
        """``"Notifier"``, ``"core.Job | None"``: a string annotation names what the module's
        globals name (as ``typing.get_type_hints`` reads it)."""
        try:
            expr = ast.parse(text.strip(), mode="eval").body
        except SyntaxError:
            return set()
        if isinstance(expr, ast.BinOp):
            return self._forward_ref(ast.unparse(expr.left)) | self._forward_ref(
                ast.unparse(expr.right)
            )
        name = full_name(expr) if isinstance(expr, (ast.Name, ast.Attribute)) else None
        if not name:
            return set()
        found = self.s.glob.qnames(name)
        names = (self.absolute(q) for q in found)
        return {TYPE + n for n in names if n and not n.startswith("builtins.")}


def _decorator_name(expr: ast.expr) -> str:
    if isinstance(expr, ast.Call):
        expr = expr.func
    if isinstance(expr, ast.Attribute):
        return expr.attr
    return expr.id if isinstance(expr, ast.Name) else ""
