"""Handler registrations and the module-level state functions touch, for one module
(``ast``). Driven by the collector of :mod:`._ast_analyze` (one walk per file). It records
registration-shaped code (``@q.handler``, ``q.add_handler(...)``,
``m.register_handler(...)``) with what the receiver resolves to; whether the receiver
really is a legacy queue or a task manager is decided across files by :mod:`._link`.
"""

from __future__ import annotations

import ast
from collections.abc import Callable

from ._ast_resolve import Arg, AstResolver, cst_args
from ._ast_scope import Access, Binding, Scope
from ._facts import HandlerFact, Number, StateUse

HANDLER_METHODS = frozenset({"handler", "add_handler", "register_handler"})
MUTATORS = frozenset(
    {
        "append",
        "extend",
        "insert",
        "update",
        "add",
        "pop",
        "popitem",
        "popleft",
        "appendleft",
        "extendleft",
        "remove",
        "discard",
        "clear",
        "setdefault",
        "sort",
        "reverse",
        "rotate",
        "subtract",
        "difference_update",
        "intersection_update",
        "symmetric_difference_update",
    }
)
MUTABLE_FACTORIES = frozenset(
    {
        "builtins.dict",
        "builtins.list",
        "builtins.set",
        "builtins.bytearray",
        "collections.defaultdict",
        "collections.OrderedDict",
        "collections.Counter",
        "collections.deque",
    }
)
_MUTABLE_LITERALS = (ast.Dict, ast.List, ast.Set, ast.DictComp, ast.ListComp, ast.SetComp)

GetPosition = Callable[[ast.AST], tuple[int, int]]  # 1-based line and column


class AstHandlerScanner:
    """Collects handler registrations and module-level state uses for one module."""

    def __init__(self, resolver: AstResolver) -> None:
        self.r = resolver
        self.handlers: list[HandlerFact] = []
        self.uses: set[StateUse] = set()
        self.mutable: set[str] = set()
        self._mutable_targets: set[int] = set()
        self._written_names: set[int] = set()
        self._globals: dict[str, set[str]] = {}
        self._inner_calls: set[int] = set()

    # -- registrations -----------------------------------------------------------------
    def decorators(
        self,
        node: ast.FunctionDef | ast.AsyncFunctionDef,
        function: str,
        position: Callable[[ast.expr], tuple[int, int]],
    ) -> None:
        for expr in node.decorator_list:
            call = expr if isinstance(expr, ast.Call) else None
            func = call.func if call is not None else expr
            if not (isinstance(func, ast.Attribute) and func.attr in HANDLER_METHODS):
                continue
            receivers = self.r.fqns(func.value)
            if not receivers:
                continue
            args = cst_args(call) if call is not None else []
            name = _literal_name(args) or node.name
            line, col = position(expr)
            self.handlers.append(
                HandlerFact(
                    line, col, func.attr, tuple(sorted(receivers)), name, function, *_retries(args)
                )
            )

    def call(self, node: ast.Call, position: GetPosition) -> None:
        if id(node) in self._inner_calls:
            return
        func = node.func
        if (
            isinstance(func, ast.Call)
            and isinstance(func.func, ast.Attribute)
            and func.func.attr in HANDLER_METHODS
        ):
            self._inner_calls.add(id(func))
            args = cst_args(func)
            method = func.func
            given = _positional(cst_args(node))
            target = given[0] if given else None
        elif isinstance(func, ast.Attribute) and func.attr in HANDLER_METHODS:
            args = cst_args(node)
            method = func
            target = _function_arg(args, func.attr)
        else:
            return
        if target is None and method.attr == "handler":
            return
        receivers = self.r.fqns(method.value)
        if not receivers:
            return
        function = None
        if target is not None:
            ids = sorted(self.r.callable_ids(target))
            function = ids[0] if ids else None
        name = _literal_name(args)
        if name is None and not _has_name_arg(args) and function:
            name = function.rpartition(".")[2]
        line, col = position(node)
        self.handlers.append(
            HandlerFact(
                line, col, method.attr, tuple(sorted(receivers)), name, function, *_retries(args)
            )
        )

    # -- module-level state ------------------------------------------------------------
    def module_assignment(self, targets: list[ast.expr], value: object) -> None:
        if not self._is_mutable(value):
            return
        for target in targets:
            if isinstance(target, ast.Name):
                self.mutable.add(self.r.qualify(target.id))
                self._mutable_targets.add(id(target))

    def _is_mutable(self, value: object) -> bool:
        if isinstance(value, _MUTABLE_LITERALS):
            return True
        return isinstance(value, ast.Call) and bool(self.r.fqns(value.func) & MUTABLE_FACTORIES)

    def note_global(self, function: str, node: ast.Global) -> None:
        self._globals.setdefault(function, set()).update(node.names)

    def assigned(self, function: str, target: ast.expr) -> None:
        if isinstance(target, ast.Subscript):
            self._write(function, target.value)
        elif isinstance(target, ast.Name) and target.id in self._globals.get(function, ()):
            self.uses.add(StateUse(function, self.r.qualify(target.id), "rebind"))
        elif isinstance(target, (ast.Tuple, ast.List)):
            for element in target.elts:
                self.assigned(
                    function, element.value if isinstance(element, ast.Starred) else element
                )

    def method_call(self, function: str, node: ast.Call) -> None:
        func = node.func
        if isinstance(func, ast.Attribute) and func.attr in MUTATORS:
            self._write(function, func.value)

    def _write(self, function: str, obj: ast.expr) -> None:
        while isinstance(obj, ast.Subscript):
            obj = obj.value
        root = obj
        while isinstance(root, ast.Attribute):
            root = root.value
        if not isinstance(root, ast.Name):
            return
        for variable in self.r.fqns(obj):
            self.uses.add(StateUse(function, variable, "write"))
        self._written_names.add(id(root))

    def reads(self) -> None:
        """Reads of this module's mutable names from inside functions: the accesses libcst
        would list among those assignments' references."""
        if not self._mutable_targets:
            return
        scopes = self.r.s
        glob = scopes.glob
        targets = {
            b
            for name, bindings in glob.assignments.items()
            for b in bindings
            if id(b.node) in self._mutable_targets
        }
        if not targets:
            return
        names = {b.name for b in targets}
        for access in scopes.all_accesses:
            if access.name not in names or id(access.node) in self._written_names:
                continue
            function = _function_of(access.scope)
            if function is None:
                continue
            for binding in _references_of(access):
                if binding in targets:
                    self.uses.add(
                        StateUse(self.r.qualify(function), self.r.qualify(binding.name), "read")
                    )


def _references_of(access: Access) -> list[Binding]:
    """The assignments whose ``references`` libcst puts ``access`` in."""
    out: list[Binding] = []
    todo = list(access.scope.resolve(access.name))
    seen: set[int] = set()
    while todo:
        binding = todo.pop()
        if id(binding) in seen:
            continue
        seen.add(id(binding))
        if binding.scope is not access.scope or binding.index < access.index:
            out.append(binding)
        elif binding.scope.parent is not binding.scope:
            todo.extend(binding.scope.parent.resolve(binding.name))
    return out


def _function_of(scope: Scope) -> str | None:
    while scope.kind not in ("global", "builtin"):
        if scope.kind == "function" and isinstance(
            scope.node, (ast.FunctionDef, ast.AsyncFunctionDef)
        ):
            return scope.function_path()
        scope = scope.parent
    return None


def _positional(args: list[Arg]) -> list[ast.expr]:
    return [a.value for a in args if a.keyword is None and not a.star]


def _keyword(args: list[Arg], *names: str) -> ast.expr | None:
    for arg in args:
        if arg.keyword is not None and arg.keyword in names:
            return arg.value
    return None


def _string(expr: ast.expr | None) -> str | None:
    if isinstance(expr, ast.Constant) and isinstance(expr.value, str):
        return expr.value
    return None


def _literal_name(args: list[Arg]) -> str | None:
    for value in (*_positional(args)[:1], _keyword(args, "name", "name_or_func")):
        name = _string(value)
        if name is not None:
            return name
    return None


def _has_name_arg(args: list[Arg]) -> bool:
    return len(_positional(args)) >= 2 or _keyword(args, "name") is not None


def _function_arg(args: list[Arg], method: str) -> ast.expr | None:
    keyword = _keyword(args, "func", "fn", "function", "handler", "callback")
    if keyword is not None:
        return keyword
    positional = _positional(args)
    if len(positional) >= 2 and method != "handler":
        return positional[1]
    if positional and not _is_string(positional[0]):
        return positional[0]
    return None


def _is_string(expr: ast.expr) -> bool:
    return isinstance(expr, ast.JoinedStr) or (
        isinstance(expr, ast.Constant) and isinstance(expr.value, (str, bytes))
    )


def _number(expr: ast.expr | None) -> Number | None:
    sign = 1
    if isinstance(expr, ast.UnaryOp) and isinstance(expr.op, ast.USub):
        sign, expr = -1, expr.operand
    if (
        isinstance(expr, ast.Constant)
        and isinstance(expr.value, (int, float))
        and not isinstance(expr.value, bool)
    ):
        return sign * expr.value
    return None


def _retries(args: list[Arg]) -> tuple[Number | None, Number | None]:
    return _number(_keyword(args, "max_retries")), _number(_keyword(args, "retry_delay"))
