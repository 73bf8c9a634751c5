"""What a name in the source refers to, by meaning: imports, aliases, relative imports,
module attributes, ``self`` attributes and the declared type of a local or parameter.

libcst's QualifiedNameProvider resolves imports and aliases; it does not know the module's
own name (so relative imports stay relative) nor instances, which this module adds.
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from typing import Any

import libcst as cst
from libcst.metadata import (
    Assignment,
    ClassScope,
    FunctionScope,
    GlobalScope,
    QualifiedName,
    QualifiedNameSource,
    Scope,
    ScopeProvider,
)

from ._symbols import (  # noqa: F401 - re-exported for the codemods
    ASYNC_QUEUE_CLASSES,
    BACKGROUND_TASKS,
    QUEUE_CLASSES,
    RET,
    STATE,
    TYPE,
    is_legacy_task_queue_class,
)

# Scopes only: qualified names are asked of the scope for the few expressions that matter,
# instead of QualifiedNameProvider computing them for every node (most of a scan's time).
METADATA = (ScopeProvider,)

GetMetadata = Callable[..., Any]


class Resolver:
    """Turns expressions into fully qualified names for one module."""

    def __init__(self, get_metadata: GetMetadata, module: str, is_package: bool) -> None:
        self._get = get_metadata
        self.module = module
        self.package = module if is_package else module.rpartition(".")[0]
        # id(target Name) -> the value assigned to it, or its annotation; filled by the
        # visitors as they pass assignments (a parent-node pass would cost a tree walk).
        self._assigned: dict[int, tuple[str, cst.BaseExpression]] = {}

    def note_assignment(self, node: cst.Assign | cst.AnnAssign) -> None:
        """Remember what a local name is assigned (``x = Cls()``, ``x: Cls = ...``)."""
        if isinstance(node, cst.AnnAssign):
            if isinstance(node.target, cst.Name):
                self._assigned[id(node.target)] = ("annotation", node.annotation.annotation)
            return
        if isinstance(node.value, (cst.Call, cst.Name, cst.Attribute)):
            kind = "call" if isinstance(node.value, cst.Call) else "alias"
            for target in node.targets:
                if isinstance(target.target, cst.Name):
                    self._assigned[id(target.target)] = (kind, node.value)

    def qnames(self, expr: cst.BaseExpression) -> Collection[QualifiedName]:
        """libcst's qualified names of a dotted name (other expressions have none)."""
        inner: cst.BaseExpression = expr
        while isinstance(inner, cst.Attribute):
            inner = inner.value
        if not isinstance(inner, cst.Name):
            return ()
        scope: Scope | None = self._get(ScopeProvider, expr, None)
        if scope is None:
            return ()
        return scope.get_qualified_names_for(expr)

    def qualify(self, local: str) -> str:
        return f"{self.module}.{local}" if self.module else local

    def absolute(self, qname: QualifiedName) -> str | None:
        name = qname.name
        if qname.source is QualifiedNameSource.IMPORT:
            if not name.startswith("."):
                return name
            dots = len(name) - len(name.lstrip("."))
            parts = self.package.split(".") if self.package else []
            if dots - 1 > len(parts) or not self.module:
                return None
            base = parts[: len(parts) - (dots - 1)]
            return ".".join([*base, name[dots:]]) if base else name[dots:]
        if qname.source is QualifiedNameSource.BUILTIN:
            return name if name.startswith("builtins.") else f"builtins.{name}"
        if "<locals>" in name:
            return None  # a parameter or local: never the module's queue
        return self.qualify(name)

    def callable_ids(self, expr: cst.BaseExpression) -> frozenset[str]:
        """Identities of a function reference, locals included (thread targets)."""
        attr = self.self_attribute(expr)
        if attr is not None:
            return frozenset({attr})
        out = set()
        for qname in self.qnames(expr):
            if qname.source is QualifiedNameSource.LOCAL:
                out.add(self.qualify(qname.name))
            else:
                full = self.absolute(qname)
                if full:
                    out.add(full)
        return frozenset(out)

    def fqns(self, expr: cst.BaseExpression) -> frozenset[str]:
        """Module-level names and ``self`` attributes ``expr`` refers to (locals excluded)."""
        attr = self.self_attribute(expr)
        if attr is not None:
            return frozenset({attr})
        names = (self.absolute(q) for q in self.qnames(expr))
        return frozenset(n for n in names if n)

    def self_attribute(self, expr: cst.BaseExpression) -> str | None:
        """``self.x`` inside a method of class ``C`` -> ``module.C.x``."""
        if not (isinstance(expr, cst.Attribute) and isinstance(expr.value, cst.Name)):
            return None
        owner = self.method_class(expr.value)
        return f"{owner}.{expr.attr.value}" if owner else None

    def method_class(self, name: cst.Name) -> str | None:
        """The class path when ``name`` is the first parameter of a method (self/cls), also
        when read inside a function nested in that method (a closure's ``self``)."""
        scope: Scope | None = self._get(ScopeProvider, name, None)
        if scope is None or name.value not in scope:
            return None
        owners = set()
        for assignment in scope[name.value]:
            owner = self._first_param_class(assignment)
            if owner is None:
                return None  # also bound some other way: not surely the instance
            owners.add(owner)
        return owners.pop() if len(owners) == 1 else None

    def scope_binds(self, name: cst.Name, node_ids: Collection[int]) -> bool:
        """Whether ``name`` is bound by one of the nodes ``node_ids`` (e.g. ``with ... as``)."""
        scope: Scope | None = self._get(ScopeProvider, name, None)
        if scope is None or name.value not in scope:
            return False
        return any(isinstance(a, Assignment) and id(a.node) in node_ids for a in scope[name.value])

    def _first_param_class(self, assignment: object) -> str | None:
        if not isinstance(assignment, Assignment) or not isinstance(assignment.node, cst.Param):
            return None
        scope = assignment.scope
        if not isinstance(scope, FunctionScope) or not isinstance(scope.node, cst.FunctionDef):
            return None
        params = scope.node.params
        first = (params.posonly_params or params.params or (None,))[0]
        if first is not assignment.node or not isinstance(scope.parent, ClassScope):
            return None
        if any(_decorator_name(d) == "staticmethod" for d in scope.node.decorators):
            return None
        path = self.scope_path(scope.parent)
        return self.qualify(path) if path and "<locals>" not in path else None

    def scope_path(self, scope: Scope) -> str:
        """``Outer.Inner`` / ``f.<locals>.g`` for a class or function scope."""
        parts: list[str] = []
        current: Scope | None = scope
        while current is not None and not isinstance(current, GlobalScope):
            node = getattr(current, "node", None)
            if isinstance(current, FunctionScope) and isinstance(node, cst.FunctionDef):
                parts.insert(0, f"{node.name.value}.<locals>" if parts else node.name.value)
            elif isinstance(current, ClassScope) and isinstance(node, cst.ClassDef):
                parts.insert(0, node.name.value)
            current = current.parent
        return ".".join(parts)

    def declared_types(self, name: cst.Name) -> frozenset[str]:
        """Annotation or constructor of the local/parameter ``name`` (``bt: BackgroundTasks``)."""
        scope: Scope | None = self._get(ScopeProvider, name, None)
        if scope is None or name.value not in scope:
            return frozenset()
        out: set[str] = set()
        for assignment in scope[name.value]:
            if not isinstance(assignment, Assignment):
                continue
            node = assignment.node
            if isinstance(node, cst.Param) and node.annotation is not None:
                out |= self.fqns(node.annotation.annotation)
            elif isinstance(node, cst.Name):
                out |= self._assigned_type(node)
        return frozenset(out)

    def _assigned_type(self, target: cst.Name) -> frozenset[str]:
        kind, expr = self._assigned.get(id(target), ("", None))
        if isinstance(expr, cst.Call):
            expr = expr.func
        return self.fqns(expr) if expr is not None and kind != "alias" else frozenset()

    # -- receivers: what an object expression may be, symbolically ----------------------
    def receivers(self, expr: cst.BaseExpression, depth: int = 0) -> frozenset[str]:
        """What the object ``expr`` is: its module/class attribute names (:meth:`fqns`) or,
        for what has none, symbolic names the cross-file linker resolves: ``@state.x``
        (``app.state.x``), ``@ret:f`` (what calling ``f`` returns: an instance when ``f`` is
        a class) and ``@type:C`` (declared as ``C``). Locals, parameters (annotation or
        ``Depends(provider)``) and closures' variables are followed; never the code itself."""
        names = self.fqns(expr)
        if names or depth > 3:
            return names
        if isinstance(expr, cst.Attribute):
            if isinstance(expr.value, cst.Attribute) and expr.value.attr.value == "state":
                return frozenset({f"{STATE}{expr.attr.value}"})
            base = self.receivers(expr.value, depth + 1)
            return frozenset(f"{b}.{expr.attr.value}" for b in base if not b.startswith(TYPE))
        if isinstance(expr, cst.Call):
            return frozenset(RET + n for n in self.callable_ids(expr.func) if "<locals>" not in n)
        if isinstance(expr, cst.Name):
            return self._local_receivers(expr, depth)
        return frozenset()

    def _local_receivers(self, name: cst.Name, depth: int) -> frozenset[str]:
        scope: Scope | None = self._get(ScopeProvider, name, None)
        if scope is None or name.value not in scope:
            return frozenset()
        out: set[str] = set()
        for assignment in scope[name.value]:
            if not isinstance(assignment, Assignment):
                continue
            node = assignment.node
            if isinstance(node, cst.Param):
                out |= self._param_receivers(node)
            elif isinstance(node, cst.Name):
                kind, expr = self._assigned.get(id(node), ("", None))
                if kind == "annotation" and expr is not None:
                    out |= self._annotation_types(expr)
                elif expr is not None:
                    out |= self.receivers(expr, depth + 1)
        return frozenset(out)

    def _param_receivers(self, param: cst.Param) -> set[str]:
        out: set[str] = set()
        if param.annotation is not None:
            out |= self._annotation_types(param.annotation.annotation)
        default = param.default
        if isinstance(default, cst.Call) and "fastapi.Depends" in self.fqns(default.func):
            out |= self._depends(default)
        return out

    def _depends(self, call: cst.Call) -> set[str]:
        if call.args and call.args[0].keyword is None:
            return {RET + n for n in self.callable_ids(call.args[0].value)}
        return set()

    def _annotation_types(self, annotation: cst.BaseExpression) -> set[str]:
        """``C``, ``C | None``, ``Optional[C]``, ``Annotated[C, Depends(f)]`` -> ``@type:C``
        (and ``@ret:f``)."""
        if isinstance(annotation, cst.BinaryOperation):
            return self._annotation_types(annotation.left) | self._annotation_types(
                annotation.right
            )
        if isinstance(annotation, cst.Subscript):
            outer = self.fqns(annotation.value)
            inner = [e.slice.value for e in annotation.slice if isinstance(e.slice, cst.Index)]
            if outer & {"typing.Optional", "typing.Union"}:
                return set().union(*(self._annotation_types(i) for i in inner))
            if outer & {"typing.Annotated", "typing_extensions.Annotated"} and inner:
                out = self._annotation_types(inner[0])
                for extra in inner[1:]:
                    if isinstance(extra, cst.Call) and "fastapi.Depends" in self.fqns(extra.func):
                        out |= self._depends(extra)
                return out
            return set()
        return {TYPE + n for n in self.fqns(annotation) if not n.startswith("builtins.")}


def _decorator_name(decorator: cst.Decorator) -> str:
    expr = decorator.decorator
    if isinstance(expr, cst.Call):
        expr = expr.func
    if isinstance(expr, cst.Attribute):
        return expr.attr.value
    return expr.value if isinstance(expr, cst.Name) else ""
