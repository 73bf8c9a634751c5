"""Handler registrations and the module-level state functions touch, for one module.

:class:`HandlerScanner` is driven by the one visitor of :mod:`._analyze` (a second tree walk
would cost a second pass over every analysed file). It records registration-shaped code
(``@q.handler``, ``q.add_handler(...)``, ``m.register_handler(...)``) with what the receiver
resolves to; whether the receiver really is a legacy queue or a task manager is decided
across files by :mod:`._link`, as for sites.
"""

from __future__ import annotations

from collections.abc import Callable

import libcst as cst
from libcst.metadata import Access, Assignment, FunctionScope, GlobalScope, Scope, ScopeProvider

from ._facts import HandlerFact, Number, StateUse
from ._resolve import GetMetadata, Resolver

HANDLER_METHODS = frozenset({"handler", "add_handler", "register_handler"})
# Methods that change a dict, list, set, deque or Counter in place.
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
_STRINGS = (cst.SimpleString, cst.ConcatenatedString, cst.FormattedString)
_MUTABLE_LITERALS = (cst.Dict, cst.List, cst.Set, cst.DictComp, cst.ListComp, cst.SetComp)

GetPosition = Callable[[cst.CSTNode], tuple[int, int]]  # 1-based line and column


class HandlerScanner:
    """Collects handler registrations and module-level state uses for one module."""

    def __init__(self, resolver: Resolver, get_metadata: GetMetadata) -> None:
        self.r = resolver
        self._get = get_metadata
        self.handlers: list[HandlerFact] = []
        self.uses: set[StateUse] = set()
        self.mutable: set[str] = set()
        self._mutable_targets: set[int] = set()  # ids of module-level Names bound to one
        self._written_names: set[int] = set()  # ids of Names a write already counted
        self._globals: dict[str, set[str]] = {}  # function -> names declared global
        self._inner_calls: set[int] = set()  # q.handler("x") inside q.handler("x")(f)

    # -- registrations -----------------------------------------------------------------
    def decorators(self, node: cst.FunctionDef, function: str, position: GetPosition) -> None:
        for decorator in node.decorators:
            expr = decorator.decorator
            call = expr if isinstance(expr, cst.Call) else None
            func = call.func if call is not None else expr
            if not (isinstance(func, cst.Attribute) and func.attr.value in HANDLER_METHODS):
                continue
            receivers = self.r.fqns(func.value)
            if not receivers:
                continue
            args = list(call.args) if call is not None else []
            name = _literal_name(args) or node.name.value
            line, col = position(decorator)
            self.handlers.append(
                HandlerFact(
                    line,
                    col,
                    func.attr.value,
                    tuple(sorted(receivers)),
                    name,
                    function,
                    *_retries(args),
                )
            )

    def call(self, node: cst.Call, position: GetPosition) -> None:
        """``q.add_handler("n", f)``, ``m.register_handler("n", f)``, ``q.handler(f)`` and
        the decorator spelled as a call, ``q.handler("n")(f)``, outside decorators."""
        if id(node) in self._inner_calls:
            return
        func = node.func
        if (
            isinstance(func, cst.Call)
            and isinstance(func.func, cst.Attribute)
            and func.func.attr.value in HANDLER_METHODS
        ):
            self._inner_calls.add(id(func))  # counted here, with the function it gets
            args = list(func.args)
            func = func.func
            given = _positional(list(node.args))
            target = given[0] if given else None
        elif isinstance(func, cst.Attribute) and func.attr.value in HANDLER_METHODS:
            args = list(node.args)
            target = _function_arg(args, func.attr.value)
        else:
            return
        if target is None and func.attr.value == "handler":
            return  # q.handler("n") alone registers nothing yet
        receivers = self.r.fqns(func.value)
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
                line,
                col,
                func.attr.value,
                tuple(sorted(receivers)),
                name,
                function,
                *_retries(args),
            )
        )

    # -- module-level state ------------------------------------------------------------
    def module_assignment(self, targets: list[cst.BaseExpression], value: object) -> None:
        """A module-level ``x = {}`` / ``x: dict = {}`` / ``x = defaultdict(list)``."""
        if not self._is_mutable(value):
            return
        for target in targets:
            if isinstance(target, cst.Name):
                self.mutable.add(self.r.qualify(target.value))
                self._mutable_targets.add(id(target))

    def _is_mutable(self, value: object) -> bool:
        if isinstance(value, _MUTABLE_LITERALS):
            return True
        return isinstance(value, cst.Call) and bool(self.r.fqns(value.func) & MUTABLE_FACTORIES)

    def note_global(self, function: str, node: cst.Global) -> None:
        self._globals.setdefault(function, set()).update(n.name.value for n in node.names)

    def assigned(self, function: str, target: cst.BaseExpression) -> None:
        """A target assigned inside ``function``: ``x[k] = v``, ``del x[k]``, ``x += 1``."""
        if isinstance(target, cst.Subscript):
            self._write(function, target.value)
        elif isinstance(target, cst.Name) and target.value in self._globals.get(function, ()):
            self.uses.add(StateUse(function, self.r.qualify(target.value), "rebind"))
        elif isinstance(target, (cst.Tuple, cst.List)):
            for element in target.elements:
                self.assigned(function, element.value)

    def method_call(self, function: str, node: cst.Call) -> None:
        func = node.func
        if isinstance(func, cst.Attribute) and func.attr.value in MUTATORS:
            self._write(function, func.value)

    def _write(self, function: str, obj: cst.BaseExpression) -> None:
        while isinstance(obj, cst.Subscript):  # x[a][b] = v changes x
            obj = obj.value
        if not _dotted(obj):
            return
        for variable in self.r.fqns(obj):
            self.uses.add(StateUse(function, variable, "write"))
        root = obj
        while isinstance(root, cst.Attribute):
            root = root.value
        self._written_names.add(id(root))

    def reads(self, module: cst.Module) -> None:
        """Reads of this module's mutable names from inside functions (via the scopes, so
        only those names' references are looked at)."""
        scope = self._get(ScopeProvider, module, None)
        if not isinstance(scope, GlobalScope):
            return
        for assignment in scope.assignments:
            if not isinstance(assignment, Assignment):
                continue
            if id(assignment.node) not in self._mutable_targets:
                continue
            variable = self.r.qualify(assignment.name)
            for access in assignment.references:
                self._read(access, variable)

    def _read(self, access: Access, variable: str) -> None:
        if id(access.node) in self._written_names:
            return
        function = self._function_of(access.scope)
        if function is not None:
            self.uses.add(StateUse(function, variable, "read"))

    def _function_of(self, scope: Scope | None) -> str | None:
        while scope is not None and not isinstance(scope, GlobalScope):
            if isinstance(scope, FunctionScope) and isinstance(scope.node, cst.FunctionDef):
                return self.r.qualify(self.r.scope_path(scope))
            scope = scope.parent
        return None


def _dotted(expr: cst.BaseExpression) -> bool:
    while isinstance(expr, cst.Attribute):
        expr = expr.value
    return isinstance(expr, cst.Name)


def _positional(args: list[cst.Arg]) -> list[cst.BaseExpression]:
    return [a.value for a in args if a.keyword is None and not a.star]


def _keyword(args: list[cst.Arg], *names: str) -> cst.BaseExpression | None:
    for arg in args:
        if arg.keyword is not None and arg.keyword.value in names:
            return arg.value
    return None


def _string(expr: cst.BaseExpression | None) -> str | None:
    if isinstance(expr, (cst.SimpleString, cst.ConcatenatedString)):
        value = expr.evaluated_value
        return value if isinstance(value, str) else None
    return None


def _literal_name(args: list[cst.Arg]) -> str | None:
    for value in (*_positional(args)[:1], _keyword(args, "name", "name_or_func")):
        name = _string(value)
        if name is not None:
            return name
    return None


def _has_name_arg(args: list[cst.Arg]) -> bool:
    positional = _positional(args)
    return len(positional) >= 2 or _keyword(args, "name") is not None


def _function_arg(args: list[cst.Arg], method: str) -> cst.BaseExpression | None:
    """``handler(f)``; ``add_handler("n", f)`` / ``register_handler("n", f)``, or with the
    function alone, ``register_handler(f)``."""
    keyword = _keyword(args, "func", "fn", "function", "handler", "callback")
    if keyword is not None:
        return keyword
    positional = _positional(args)
    if len(positional) >= 2 and method != "handler":
        return positional[1]
    if positional and not isinstance(positional[0], _STRINGS):
        return positional[0]
    return None


def _number(expr: cst.BaseExpression | None) -> Number | None:
    sign = 1
    if isinstance(expr, cst.UnaryOperation) and isinstance(expr.operator, cst.Minus):
        sign, expr = -1, expr.expression
    if isinstance(expr, (cst.Integer, cst.Float)):
        value = expr.evaluated_value
        return sign * value if isinstance(value, (int, float)) else None
    return None


def _retries(args: list[cst.Arg]) -> tuple[Number | None, Number | None]:
    return _number(_keyword(args, "max_retries")), _number(_keyword(args, "retry_delay"))
