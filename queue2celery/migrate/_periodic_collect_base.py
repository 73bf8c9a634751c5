"""What the periodic collector's parts share: state of the walk, positions, symbols."""

from __future__ import annotations

import ast

from . import _periodic_loops as loops
from ._periodic_facts import CallRef, FuncFact, JobFact, MethodFact, ObjFact, StartFact, Stmt
from ._periodic_names import ModuleNames, Sym, dotted, symbolize, text
from ._periodic_words import ROUTE_METHODS

__all__ = ["CollectorBase", "is_sleep_call"]


class _Func:
    def __init__(self, node: ast.FunctionDef | ast.AsyncFunctionDef, fqn: str, cls: str | None):
        self.node = node
        self.fqn = fqn
        self.cls = cls
        self.calls: list[CallRef] = []
        self.writes: set[str] = set()
        self.reads: set[str] = set()
        self.io = False
        self.globals: set[str] = set()
        self.route = any(_is_route(d) for d in node.decorator_list)
        self.loops: list[ast.While] = []  # its own while loops (not nested functions')
        self.generator = False


def _is_route(decorator: ast.expr) -> bool:
    return (
        isinstance(decorator, ast.Call)
        and isinstance(decorator.func, ast.Attribute)
        and decorator.func.attr in ROUTE_METHODS
    )


class CollectorBase(ast.NodeVisitor):
    def __init__(self, module: str, is_package: bool, rel: str, source: str) -> None:
        self.n = ModuleNames(module, is_package)
        self.rel = rel
        self.lines = source.splitlines()
        self.funcs: list[_Func] = []
        self.done: list[FuncFact] = []
        self.stmts: list[ast.stmt] = []
        self.starts: list[StartFact] = []
        self.objects: list[ObjFact] = []
        self.methods: list[MethodFact] = []
        self.jobs: list[JobFact] = []
        self.constants: dict[str, Sym] = {}
        self.classes: dict[str, tuple[str, ...]] = {}
        self.awaited: set[int] = set()
        self.main_guard = 0  # inside `if __name__ == "__main__":` at module level
        self.chained_start: set[int] = set()
        self.threads: list[tuple[StartFact, str | None]] = []
        self.imports_schedule = False
        self.imports_aps = False

    # -- helpers ------------------------------------------------------------------------
    def _fqn(self, local: str) -> str:
        return f"{self.n.module}.{local}" if self.n.module else local

    def _where(self) -> str:
        return self.funcs[-1].fqn if self.funcs else self._fqn("<module>")

    def _stmt(self) -> Stmt:
        stmt = self.stmts[-1]
        line = self.lines[stmt.lineno - 1] if stmt.lineno - 1 < len(self.lines) else ""
        col = len(line.encode("utf-8")[: stmt.col_offset].decode("utf-8", "replace")) + 1
        end = getattr(stmt, "end_lineno", None) or stmt.lineno
        return Stmt(stmt.lineno, col, end, line.strip(), isinstance(stmt, ast.Expr))

    def _pos(self, node: ast.expr | ast.stmt) -> tuple[int, int]:
        line = self.lines[node.lineno - 1] if node.lineno - 1 < len(self.lines) else ""
        return node.lineno, len(
            line.encode("utf-8")[: node.col_offset].decode("utf-8", "replace")
        ) + 1

    def _sym(self, expr: ast.expr | None) -> Sym:
        return symbolize(expr, self.n)

    def _light_callref(self, call: ast.Call, callee: str | None, method: str | None) -> CallRef:
        """What the call graph needs of every call (no arguments, no text: those cost an
        ``unparse`` per call, quadratic in nesting on generated code)."""
        return CallRef(callee=callee, text="", awaited=id(call) in self.awaited, method=method)

    def _callref(self, call: ast.Call) -> CallRef:
        line, col = self._pos(call)
        return CallRef(
            callee=self.n.fqn(call.func),
            text=text(call.func),
            args=tuple(self._sym(a) for a in call.args if not isinstance(a, ast.Starred)),
            kwargs=tuple((k.arg, self._sym(k.value)) for k in call.keywords if k.arg),
            awaited=id(call) in self.awaited,
            line=line,
            col=col,
            method=call.func.attr if isinstance(call.func, ast.Attribute) else None,
            arg_texts=tuple(text(a) for a in call.args),
            kwarg_texts=tuple((k.arg, text(k.value)) for k in call.keywords if k.arg),
        )

    def _bound_name(self) -> str | None:
        """What the current assignment binds: a module name, ``Class.attr``, or a local."""
        stmt = self.stmts[-1] if self.stmts else None
        if not isinstance(stmt, (ast.Assign, ast.AnnAssign)):
            return None
        target = stmt.targets[0] if isinstance(stmt, ast.Assign) else stmt.target
        name = dotted(target)
        if name is None:
            return None
        if "." not in name and self.funcs:
            local = f"{self.funcs[-1].fqn}.<locals>.{name}"
            self.n.locals[name] = local
            return local
        return self.n.qualify(name) or (self._fqn(name) if not self.funcs else None)


def is_sleep_call(expr: ast.expr, names: ModuleNames) -> bool:
    return isinstance(expr, ast.Call) and loops.sleep_arg(expr, names.fqn) is not False
