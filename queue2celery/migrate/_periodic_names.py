"""Names and values for periodic detection, with the standard library's ``ast`` only.

Periodic detection parses with ``ast`` (C speed) rather than libcst: it needs names, loops and
literal values, never the exact source layout. Expressions that may carry an interval are
turned into a small symbolic form (:data:`Sym`) with their names already qualified, so the
cross-module evaluation after the parallel pass needs no tree and no scope.
"""

from __future__ import annotations

import ast
from typing import Any

__all__ = ["ModuleNames", "Sym", "dotted", "literal", "symbolize"]

# ("num", 5) | ("str", "02:00") | ("ref", fqn) | ("param", name) | ("bin", op, a, b)
# | ("neg", a) | ("call", fqn, (args...), ((key, value)...)) | ("src", text) | ("none",)
Sym = tuple[Any, ...]
_OPS = {ast.Add: "+", ast.Sub: "-", ast.Mult: "*", ast.Div: "/", ast.FloorDiv: "//"}
ExprNode = ast.expr | None


def dotted(expr: ast.expr) -> str | None:
    """``a.b.c`` for a chain of attributes on a name, else None."""
    parts: list[str] = []
    while isinstance(expr, ast.Attribute):
        parts.append(expr.attr)
        expr = expr.value
    if not isinstance(expr, ast.Name):
        return None
    parts.append(expr.id)
    return ".".join(reversed(parts))


def literal(expr: ExprNode) -> Any:
    """The value of a literal (numbers, strings, booleans, None, lists/tuples of those), or
    the marker :data:`NOT_LITERAL`."""
    if expr is None:
        return NOT_LITERAL
    try:
        return ast.literal_eval(expr)
    except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
        return NOT_LITERAL


NOT_LITERAL = object()


class ModuleNames:
    """What a name means in one module: imports, its own top-level definitions, ``self`` in
    a class, and the parameters and local names of the function being read."""

    def __init__(self, module: str, is_package: bool) -> None:
        self.module = module
        self.package = module if is_package else module.rpartition(".")[0]
        self.imports: dict[str, str] = {}  # local name -> fully qualified name
        self.top: set[str] = set()  # names defined at module level (def, class, assignment)
        self.params: set[str] = set()  # the current function's parameters
        self.locals: dict[str, str] = {}  # current function's local name -> its qualified name
        self.cls: str | None = None  # qualified name of the class whose method is read

    def note_import(self, node: ast.Import | ast.ImportFrom) -> None:
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.asname:
                    self.imports[alias.asname] = alias.name
                else:
                    first = alias.name.split(".")[0]
                    self.imports[first] = first
            return
        base = node.module or ""
        if node.level:
            parts = self.package.split(".") if self.package else []
            parts = parts[: len(parts) - (node.level - 1)] if node.level > 1 else parts
            base = ".".join([*parts, base] if base else parts)
        for alias in node.names:
            if alias.name == "*":
                continue
            self.imports[alias.asname or alias.name] = (
                f"{base}.{alias.name}" if base else alias.name
            )

    def qualify(self, name: str) -> str | None:
        """The fully qualified name of dotted ``name`` as written here (None: a parameter or
        an unknown local)."""
        first, _, rest = name.partition(".")
        tail = f".{rest}" if rest else ""
        if first in ("self", "cls") and self.cls is not None:
            return f"{self.cls}{tail}"
        if first in self.locals:
            return f"{self.locals[first]}{tail}"
        if first in self.params:
            return None
        if first in self.imports:
            return f"{self.imports[first]}{tail}"
        if first in self.top:
            return f"{self.module}.{name}" if self.module else name
        if first in _BUILTINS:
            return f"builtins.{name}"
        return None

    def fqn(self, expr: ast.expr) -> str | None:
        name = dotted(expr)
        return self.qualify(name) if name else None


_BUILTINS = frozenset({"int", "float", "round", "max", "min", "abs", "print", "open", "len"})


def symbolize(expr: ExprNode, names: ModuleNames, depth: int = 0) -> Sym:
    """``expr`` in symbolic form, names qualified (see :data:`Sym`)."""
    if expr is None:
        return ("none",)
    if depth > 20:
        return ("src", _text(expr))
    value = literal(expr)
    if isinstance(value, bool) or value is None:
        return ("src", _text(expr))
    if isinstance(value, (int, float)):
        return ("num", value)
    if isinstance(value, str):
        return ("str", value)
    if isinstance(expr, ast.UnaryOp) and isinstance(expr.op, ast.USub):
        return ("neg", symbolize(expr.operand, names, depth + 1))
    if isinstance(expr, ast.BinOp) and type(expr.op) in _OPS:
        return (
            "bin",
            _OPS[type(expr.op)],
            symbolize(expr.left, names, depth + 1),
            symbolize(expr.right, names, depth + 1),
        )
    if isinstance(expr, (ast.Name, ast.Attribute)):
        name = dotted(expr)
        if name is not None:
            first = name.split(".")[0]
            if first in names.params and "." not in name:
                return ("param", name)
            fqn = names.qualify(name)
            if fqn is not None:
                return ("ref", fqn)
    if isinstance(expr, ast.Call):
        func = names.fqn(expr.func)
        method = expr.func.attr if isinstance(expr.func, ast.Attribute) else None
        if func is None and method is not None:
            # timedelta(...).total_seconds(): keep the receiver for the evaluator
            func = f"<expr>.{method}"
            args: tuple[Sym, ...] = (symbolize(expr.func.value, names, depth + 1),)  # type: ignore[attr-defined]
        else:
            args = ()
        args += tuple(symbolize(a, names, depth + 1) for a in expr.args)
        kwargs = tuple(
            (k.arg, symbolize(k.value, names, depth + 1)) for k in expr.keywords if k.arg
        )
        return ("call", func or "?", args, kwargs)
    return ("src", _text(expr))


def _text(expr: ast.AST) -> str:
    lines = (getattr(expr, "end_lineno", None) or 0) - (getattr(expr, "lineno", None) or 0)
    if lines > 20:
        return "<expression>"  # a huge literal: unparsing it costs, and nobody reads it
    try:
        return ast.unparse(expr)
    except Exception:
        return "<expression>"


def text(expr: ast.AST) -> str:
    """Source text of ``expr`` for messages (normalised by ``ast.unparse``)."""
    return _text(expr)


def sym_refs(sym: tuple[Any, ...]) -> list[str]:
    """Every qualified name a symbolic value refers to."""
    if len(sym) == 2 and sym[0] == "ref":
        return [sym[1]]
    return [r for part in sym if isinstance(part, tuple) for r in sym_refs(part)]
