"""The site rules of :mod:`._rules` for scan's ``ast`` collector, same rule for rule:
decorators are never sites, awaited calls are not fire-and-forget, a dropped or only-kept
handle is, lifespan/startup code starts the app's own machinery; the fire-and-forget shapes
(``create_task``, ``Thread(...).start()``, ``executor.submit``, ``run_in_executor``) and the
payloads rewrite must not turn into a task (a shutdown sentinel, a priority tuple).

:class:`AstSiteRules` also walks the tree in libcst's order (source order) and calls
:meth:`on_name` for every identifier libcst has a ``Name`` node for, so that the facts are
the ones the libcst rules give.
"""

from __future__ import annotations

import ast
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ._ast_resolve import Arg, AstResolver, cst_args
from ._ast_scope import call_items, iter_params
from ._symbols import RET, TYPE

__all__ = [
    "AstSiteRules",
    "Spawn",
    "is_counter",
    "is_sentinel",
    "payload_class",
    "priority_shape",
    "priority_split",
]

_CREATE_TASK = frozenset({"asyncio.create_task", "asyncio.ensure_future"})
_LOOP_METHODS = frozenset({"create_task", "ensure_future"})
_EXECUTORS = frozenset(
    {"concurrent.futures.ThreadPoolExecutor", "concurrent.futures.ProcessPoolExecutor"}
)
_KEEP_METHODS = frozenset({"add", "append"})
_HANDLE_METHODS = frozenset({"add_done_callback", "start", "setDaemon"})
_STARTUP_NAMES = frozenset(
    {
        "lifespan",
        "startup",
        "on_startup",
        "startup_event",
        "app_lifespan",
        "__init__",
        "start",
        "main",
        "run_forever",
        "serve",
    }
)
_SENTINEL_WORDS = ("STOP", "SENTINEL", "SHUTDOWN", "POISON", "QUIT", "_EXIT", "DONE")
DEFS = (ast.FunctionDef, ast.AsyncFunctionDef)


@dataclass(frozen=True)
class Spawn:
    """A fire-and-forget start of work (see :class:`._rules.Spawn`)."""

    kind: str
    function: ast.expr
    args: tuple[Arg, ...] | None
    direct: bool = True


@dataclass
class _Frame:
    startup: bool
    node: ast.FunctionDef | ast.AsyncFunctionDef | None = None
    pending: dict[str, list[object]] = field(default_factory=dict)
    # name -> [call node, Spawn | None (a Thread not started yet), uses, harmless uses]


class AstSiteRules:
    """Walker base: subclasses get fire-and-forget starts through :meth:`on_spawn` and
    extend the ``visit_``/``leave_`` methods below (calling ``super()``)."""

    def __init__(self, resolver: AstResolver) -> None:
        self.r = resolver
        self._decorators = 0
        self._awaited: set[int] = set()
        self._dropped: set[int] = set()
        self._with_bound: set[int] = set()
        self._frames: list[_Frame] = []
        self._statements: list[int] = [1]  # first lines of the statements being walked

    def on_spawn(self, node: ast.Call, spawn: Spawn) -> None:
        """A fire-and-forget start found at ``node`` (override)."""

    # -- the walk (libcst's order) ------------------------------------------------------
    def walk(self, node: ast.AST) -> None:
        if isinstance(node, ast.stmt):
            self._statements.append(node.lineno)
        method = _WALK.get(type(node))
        if method is not None:
            method(self, node)
        else:
            for name in node._fields:
                value = getattr(node, name, None)
                if isinstance(value, list):
                    for item in value:
                        if isinstance(item, ast.AST):
                            self.walk(item)
                elif isinstance(value, ast.AST):
                    self.walk(value)
        if isinstance(node, ast.stmt):
            self._statements.pop()

    def _walk_all(self, nodes: list[ast.stmt] | list[ast.expr]) -> None:
        for node in nodes:
            self.walk(node)

    def _w_function(self, node: ast.FunctionDef | ast.AsyncFunctionDef) -> None:
        self.visit_FunctionDef(node)
        self._decorated(node.decorator_list)
        self.on_name(node.name)
        self._parameters(node.args)
        if node.returns is not None:
            self.walk(node.returns)
        self._walk_all(node.body)
        self.leave_FunctionDef(node)

    def _decorated(self, decorators: list[ast.expr]) -> None:
        for decorator in decorators:
            self._decorators += 1
            self.walk(decorator)
            self._decorators -= 1

    def _parameters(self, args: ast.arguments) -> None:
        for arg, default in iter_params(args):
            self.on_name(arg.arg)
            if arg.annotation is not None:
                self.walk(arg.annotation)
            if default is not None:
                self.walk(default)

    def _w_lambda(self, node: ast.Lambda) -> None:
        self._parameters(node.args)
        self.walk(node.body)

    def _w_class(self, node: ast.ClassDef) -> None:
        self.visit_ClassDef(node)
        self._decorated(node.decorator_list)
        self.on_name(node.name)
        self._walk_all(node.bases)
        for keyword in node.keywords:
            self.walk(keyword)
        self._walk_all(node.body)
        self.leave_ClassDef(node)

    def _w_name(self, node: ast.Name) -> None:
        self.on_name(node.id)

    def _w_constant(self, node: ast.Constant) -> None:
        if node.value is None or node.value is True or node.value is False:
            self.on_name(str(node.value))  # a Name in libcst

    def _w_attribute(self, node: ast.Attribute) -> None:
        self.walk(node.value)
        self.on_name(node.attr)

    def _w_keyword(self, node: ast.keyword) -> None:
        if node.arg is not None:
            self.on_name(node.arg)
        self.walk(node.value)

    def _w_call(self, node: ast.Call) -> None:
        self.visit_Call(node)
        self.walk(node.func)
        if node.keywords and node.args:
            for item in call_items(node):
                self.walk(item)
        else:
            self._walk_all(node.args)
            self._walk_all(node.keywords)  # type: ignore[arg-type]

    def _w_assign(self, node: ast.Assign) -> None:
        self.visit_Assign(node)
        self._walk_all(node.targets)
        self.walk(node.value)

    def _w_annassign(self, node: ast.AnnAssign) -> None:
        self.visit_AnnAssign(node)
        self.walk(node.target)
        self.walk(node.annotation)
        if node.value is not None:
            self.walk(node.value)

    def _w_augassign(self, node: ast.AugAssign) -> None:
        self.visit_AugAssign(node)
        self.walk(node.target)
        self.walk(node.value)

    def _w_delete(self, node: ast.Delete) -> None:
        self.visit_Delete(node)
        self._walk_all(node.targets)

    def _w_global(self, node: ast.Global | ast.Nonlocal) -> None:
        if isinstance(node, ast.Global):
            self.visit_Global(node)
        for name in node.names:
            self.on_name(name)

    def _w_return(self, node: ast.Return) -> None:
        self.visit_Return(node)
        if node.value is not None:
            self.walk(node.value)

    def _w_for(self, node: ast.For | ast.AsyncFor) -> None:
        self.visit_For(node)
        self.walk(node.target)
        self.walk(node.iter)
        self._walk_all(node.body)
        self._walk_all(node.orelse)
        self.leave_loop()

    def _w_while(self, node: ast.While) -> None:
        self.visit_While(node)
        self.walk(node.test)
        self._walk_all(node.body)
        self._walk_all(node.orelse)
        self.leave_loop()

    def _w_await(self, node: ast.Await) -> None:
        self._awaited.add(id(node.value))
        self.walk(node.value)

    def _w_expr(self, node: ast.Expr) -> None:
        if isinstance(node.value, ast.Call):
            self._dropped.add(id(node.value))
        self.walk(node.value)

    def _w_withitem(self, node: ast.withitem) -> None:
        if isinstance(node.optional_vars, ast.Name):
            self._with_bound.add(id(node.optional_vars))
        self.walk(node.context_expr)
        if node.optional_vars is not None:
            self.walk(node.optional_vars)

    def _w_import(self, node: ast.Import | ast.ImportFrom) -> None:
        if isinstance(node, ast.ImportFrom) and node.module:
            for part in node.module.split("."):
                self.on_name(part)
        for alias in node.names:
            if alias.name != "*":
                for part in alias.name.split("."):
                    self.on_name(part)
            if alias.asname:
                self.on_name(alias.asname)

    def _w_except(self, node: ast.ExceptHandler) -> None:
        if node.type is not None:
            self.walk(node.type)
        if node.name:
            self.on_name(node.name)
        self._walk_all(node.body)

    def _w_ifexp(self, node: ast.IfExp) -> None:
        self.walk(node.body)
        self.walk(node.test)
        self.walk(node.orelse)

    def _w_dict(self, node: ast.Dict) -> None:
        for key, value in zip(node.keys, node.values, strict=False):
            if key is not None:
                self.walk(key)
            self.walk(value)

    def _w_match_as(self, node: ast.MatchAs | ast.MatchStar) -> None:
        if isinstance(node, ast.MatchAs) and node.pattern is not None:
            self.walk(node.pattern)
        if node.name:
            self.on_name(node.name)

    def _w_match_mapping(self, node: ast.MatchMapping) -> None:
        for key, pattern in zip(node.keys, node.patterns, strict=False):
            self.walk(key)
            self.walk(pattern)
        if node.rest:
            self.on_name(node.rest)

    def _w_match_class(self, node: ast.MatchClass) -> None:
        self.walk(node.cls)
        self._walk_all(node.patterns)  # type: ignore[arg-type]
        for name, pattern in zip(node.kwd_attrs, node.kwd_patterns, strict=False):
            self.on_name(name)
            self.walk(pattern)

    # -- hooks (subclasses extend) ------------------------------------------------------
    def on_name(self, name: str) -> None:
        if self._frames and name in self._frames[-1].pending:
            entry = self._frames[-1].pending[name]
            entry[2] = int(entry[2]) + 1  # type: ignore[call-overload]

    def visit_FunctionDef(self, node: ast.FunctionDef | ast.AsyncFunctionDef) -> None:
        outer = bool(self._frames) and self._frames[-1].startup
        self._frames.append(_Frame(outer or _is_startup(node), node))

    def leave_FunctionDef(self, node: ast.FunctionDef | ast.AsyncFunctionDef) -> None:
        frame = self._frames.pop()
        for call, spawn, uses, harmless in frame.pending.values():
            if isinstance(spawn, Spawn) and uses == harmless:
                assert isinstance(call, ast.Call)
                self.on_spawn(call, spawn)

    def visit_ClassDef(self, node: ast.ClassDef) -> None: ...

    def leave_ClassDef(self, node: ast.ClassDef) -> None: ...

    def visit_Return(self, node: ast.Return) -> None: ...

    def visit_For(self, node: ast.For | ast.AsyncFor) -> None: ...

    def visit_While(self, node: ast.While) -> None: ...

    def leave_loop(self) -> None: ...

    def visit_Global(self, node: ast.Global) -> None: ...

    def visit_AugAssign(self, node: ast.AugAssign) -> None: ...

    def visit_Delete(self, node: ast.Delete) -> None: ...

    def visit_AnnAssign(self, node: ast.AnnAssign) -> None: ...

    def visit_Assign(self, node: ast.Assign) -> None:
        if not self._frames or len(node.targets) != 1:
            return
        target = node.targets[0]
        frame = self._frames[-1]
        if isinstance(target, ast.Attribute) and isinstance(target.value, ast.Name):
            if target.value.id in frame.pending and target.attr == "daemon":
                self._harmless(target.value.id)
            return
        if not isinstance(target, ast.Name) or not isinstance(node.value, ast.Call):
            return
        spawn = self._spawn_shape(node.value)
        if spawn is not None and not frame.startup:
            frame.pending[target.id] = [node.value, _indirect(spawn), -1, 0]
        elif self._thread_call(node.value) and not frame.startup:
            frame.pending[target.id] = [node.value, None, -1, 0]

    def _harmless(self, name: str) -> None:
        entry = self._frames[-1].pending[name]
        entry[3] = int(entry[3]) + 1  # type: ignore[call-overload]

    def visit_Call(self, node: ast.Call) -> None:
        func = node.func
        if self._frames and isinstance(func, ast.Attribute):
            pending = self._frames[-1].pending
            args = cst_args(node)
            if func.attr in _KEEP_METHODS and len(args) == 1:
                arg = args[0].value
                if isinstance(arg, ast.Name) and arg.id in pending:
                    self._harmless(arg.id)
                elif isinstance(arg, ast.Call) and id(node) in self._dropped:
                    self._dropped.add(id(arg))  # tasks.add(asyncio.create_task(...))
            receiver = func.value
            if isinstance(receiver, ast.Name) and receiver.id in pending:
                if func.attr in _HANDLE_METHODS:
                    self._harmless(receiver.id)
                    entry = pending[receiver.id]
                    if func.attr == "start" and entry[1] is None:
                        call = entry[0]
                        assert isinstance(call, ast.Call)
                        entry[1] = _indirect(_thread_spawn(call))
        if self._decorators or not self._frames or self._frames[-1].startup:
            return
        if id(node) not in self._dropped:
            return
        spawn = self._spawn_shape(node)
        if spawn is not None:
            self.on_spawn(node, spawn)

    def _spawn_shape(self, node: ast.Call) -> Spawn | None:
        func = node.func
        args = cst_args(node)
        positional = [a for a in args if a.keyword is None and not a.star]
        names = self.r.fqns(func)
        if names & _CREATE_TASK or (
            isinstance(func, ast.Attribute)
            and func.attr in _LOOP_METHODS
            and _loop_like(func.value, self.r)
        ):
            if positional and isinstance(positional[0].value, ast.Call):
                coro = positional[0].value
                return Spawn("create_task", coro.func, tuple(cst_args(coro)))
            return None
        if not isinstance(func, ast.Attribute):
            return None
        method = func.attr
        if method == "start" and isinstance(func.value, ast.Call):
            if self._thread_call(func.value):
                return _thread_spawn(func.value)
        if method == "submit" and positional and self._executor(func.value):
            return Spawn("executor_submit", positional[0].value, tuple(args[1:]))
        if method == "run_in_executor" and len(positional) >= 2:
            return Spawn("executor_submit", positional[1].value, tuple(args[2:]))
        return None

    def _thread_call(self, node: ast.Call) -> bool:
        return "threading.Thread" in self.r.fqns(node.func) and any(
            k.arg == "target" for k in node.keywords
        )

    def _executor(self, receiver: ast.expr) -> bool:
        if isinstance(receiver, ast.Name) and self.r.scope_binds(receiver, self._with_bound):
            return False  # `with ThreadPoolExecutor() as ex`: the block waits for its futures
        kinds = self.r.receivers(receiver)
        if any(k.split(":", 1)[-1] in _EXECUTORS for k in kinds):
            return True
        last = receiver.attr if isinstance(receiver, ast.Attribute) else ""
        last = receiver.id if isinstance(receiver, ast.Name) else last
        return "executor" in last.lower() or last.lower().endswith("pool")


_WALK: dict[type[ast.AST], Callable[[AstSiteRules, Any], None]] = {
    ast.FunctionDef: AstSiteRules._w_function,
    ast.AsyncFunctionDef: AstSiteRules._w_function,
    ast.Lambda: AstSiteRules._w_lambda,
    ast.ClassDef: AstSiteRules._w_class,
    ast.Name: AstSiteRules._w_name,
    ast.Constant: AstSiteRules._w_constant,
    ast.Attribute: AstSiteRules._w_attribute,
    ast.keyword: AstSiteRules._w_keyword,
    ast.Call: AstSiteRules._w_call,
    ast.Assign: AstSiteRules._w_assign,
    ast.AnnAssign: AstSiteRules._w_annassign,
    ast.AugAssign: AstSiteRules._w_augassign,
    ast.Delete: AstSiteRules._w_delete,
    ast.Global: AstSiteRules._w_global,
    ast.Nonlocal: AstSiteRules._w_global,
    ast.Return: AstSiteRules._w_return,
    ast.For: AstSiteRules._w_for,
    ast.AsyncFor: AstSiteRules._w_for,
    ast.While: AstSiteRules._w_while,
    ast.Await: AstSiteRules._w_await,
    ast.Expr: AstSiteRules._w_expr,
    ast.withitem: AstSiteRules._w_withitem,
    ast.Import: AstSiteRules._w_import,
    ast.ImportFrom: AstSiteRules._w_import,
    ast.ExceptHandler: AstSiteRules._w_except,
    ast.IfExp: AstSiteRules._w_ifexp,
    ast.Dict: AstSiteRules._w_dict,
    ast.MatchAs: AstSiteRules._w_match_as,
    ast.MatchStar: AstSiteRules._w_match_as,
    ast.MatchMapping: AstSiteRules._w_match_mapping,
    ast.MatchClass: AstSiteRules._w_match_class,
}


def _indirect(spawn: Spawn) -> Spawn:
    return Spawn(spawn.kind, spawn.function, spawn.args, direct=False)


def _thread_spawn(call: ast.Call) -> Spawn:
    target: ast.expr = ast.Name("None")
    args: tuple[Arg, ...] | None = ()
    for arg in call.keywords:
        if arg.arg == "target":
            target = arg.value
        elif arg.arg == "args":
            if isinstance(arg.value, (ast.Tuple, ast.List)):
                args = tuple(
                    Arg(None, "", e) for e in arg.value.elts if not isinstance(e, ast.Starred)
                )
            else:
                args = None
        elif arg.arg == "kwargs":
            args = None
    return Spawn("thread_start", target, args)


def _loop_like(expr: ast.expr, resolver: AstResolver) -> bool:
    names = resolver.receivers(expr)
    if any(n.endswith(("get_event_loop", "get_running_loop", "new_event_loop")) for n in names):
        return True
    last = expr.attr if isinstance(expr, ast.Attribute) else ""
    last = expr.id if isinstance(expr, ast.Name) else last
    return "loop" in last.lower()


def _is_startup(node: ast.FunctionDef | ast.AsyncFunctionDef) -> bool:
    if node.name in _STARTUP_NAMES:
        return True
    for expr in node.decorator_list:
        if isinstance(expr, ast.Call):
            first = cst_args(expr)[:1]
            if (
                isinstance(expr.func, ast.Attribute)
                and expr.func.attr == "on_event"
                and first
                and _simple_string(first[0].value) is not None
                and "startup" in str(_simple_string(first[0].value))
            ):
                return True
            expr = expr.func
        name = expr.attr if isinstance(expr, ast.Attribute) else ""
        name = expr.id if isinstance(expr, ast.Name) else name
        if name == "asynccontextmanager" and "lifespan" in node.name:
            return True
    return False


def _simple_string(expr: ast.expr) -> str | None:
    """The literal of a one-piece string (libcst's SimpleString; its quotes don't matter
    to the ``in`` tests made on it)."""
    if isinstance(expr, ast.Constant) and isinstance(expr.value, (str, bytes)):
        value = expr.value
        return value if isinstance(value, str) else value.decode("latin-1")
    return None


def is_sentinel(expr: ast.expr) -> bool:
    """``put(None)``, ``put(STOP)`` or ``put((0, None))``: a consumer's shutdown signal."""
    if isinstance(expr, ast.Tuple) and len(expr.elts) in (2, 3):
        last = expr.elts[-1]
        return is_sentinel(last.value if isinstance(last, ast.Starred) else last)
    if isinstance(expr, ast.Constant):
        return expr.value is None
    if isinstance(expr, ast.Name):
        upper = expr.id.upper()
        return expr.id == upper and any(w in upper for w in _SENTINEL_WORDS)
    if isinstance(expr, ast.Attribute):
        name = expr.attr
        return name == name.upper() and any(w in name for w in _SENTINEL_WORDS)
    return False


def priority_shape(expr: ast.expr, code: str) -> str:
    """What a put's item is on a PriorityQueue (both callers ask only for one): ``"split"``
    for ``(priority, item)`` and ``(priority, counter, item)``, ``"unsplit"`` for a
    ``(priority, x, item)`` whose ``x`` is not recognisably a counter (the item may be
    ``(x, item)``: it cannot be told from a tie-breaker), ``""`` for anything else. The
    first element must read as a priority: a number, a name that says ``prio``, or an
    expression of int literals, names and attributes (``0 if urgent else 5``). ``code`` is
    the first element's source text. The libcst twin (:func:`._rules.priority_split`)
    parses its elements' code and asks this function, so the two never disagree."""
    if not isinstance(expr, ast.Tuple) or len(expr.elts) not in (2, 3):
        return ""
    if any(isinstance(e, ast.Starred) for e in expr.elts):
        return ""
    first = expr.elts[0]
    number = _number(first) or (isinstance(first, ast.UnaryOp) and _integer(first.operand))
    if not number and "prio" not in code.lower() and not _priority_parts(first):
        return ""
    if len(expr.elts) == 3 and not is_counter(expr.elts[1]):
        return "unsplit"
    return "split"


def priority_split(expr: ast.expr, code: str) -> tuple[ast.expr, ast.expr] | None:
    """``(priority, item)`` / ``(priority, counter, item)`` as ``(priority, item)``."""
    if priority_shape(expr, code) != "split":
        return None
    assert isinstance(expr, ast.Tuple)
    return expr.elts[0], expr.elts[-1]


_PRIORITY_NODES = (
    ast.IfExp,
    ast.BoolOp,
    ast.Compare,
    ast.BinOp,
    ast.UnaryOp,
    ast.Name,
    ast.Attribute,
    ast.expr_context,
    ast.operator,
    ast.boolop,
    ast.cmpop,
    ast.unaryop,
)


def _priority_parts(expr: ast.expr) -> bool:
    """Every part an int literal, a name or an attribute (operators between them)."""
    for node in ast.walk(expr):
        if isinstance(node, ast.Constant):
            if not isinstance(node.value, int):
                return False
        elif not isinstance(node, _PRIORITY_NODES):
            return False
    return True


_COUNTER_CALLS = frozenset(
    {"time", "time_ns", "monotonic", "monotonic_ns", "perf_counter", "perf_counter_ns"}
)
_COUNTER_WORDS = ("seq", "count", "tie", "order")


def is_counter(expr: ast.expr) -> bool:
    """A tie-breaker: ``next(...)``, ``id(...)``, ``time.time()``/``monotonic()``, or a
    name/attribute whose last part says seq, count(er), tie, order or is ``n``."""
    if isinstance(expr, ast.Call):
        func = expr.func
        if isinstance(func, ast.Name):
            return func.id in ("next", "id") or func.id in _COUNTER_CALLS
        return isinstance(func, ast.Attribute) and func.attr in _COUNTER_CALLS
    if isinstance(expr, ast.Name):
        last = expr.id
    elif isinstance(expr, ast.Attribute):
        last = expr.attr
    else:
        return False
    last = last.lower()
    return any(w in last for w in _COUNTER_WORDS) or "n" in last.strip("_").split("_")


def _integer(expr: ast.expr) -> bool:
    return (
        isinstance(expr, ast.Constant)
        and isinstance(expr.value, int)
        and not isinstance(expr.value, bool)
    )


def _number(expr: ast.expr) -> bool:
    return _integer(expr) or (isinstance(expr, ast.Constant) and isinstance(expr.value, float))


def payload_class(expr: ast.expr, resolver: AstResolver) -> str | None:
    """The class whose instance ``expr`` is, when the source says so."""
    if isinstance(expr, ast.Tuple) and expr.elts:
        last = expr.elts[-1]
        return payload_class(last.value if isinstance(last, ast.Starred) else last, resolver)
    if isinstance(expr, ast.Call):
        names = sorted(resolver.fqns(expr.func))
        return names[0] if names and _class_like(names[0]) else None
    if isinstance(expr, ast.Name):
        for name in sorted(resolver.receivers(expr)):
            if name.startswith(RET) and _class_like(name[len(RET) :]):
                return name[len(RET) :]
            if name.startswith(TYPE):
                return name[len(TYPE) :]
    return None


def _class_like(name: str) -> bool:
    last = name.rpartition(".")[2]
    return last[:1].isupper() and not last.isupper() and not name.startswith("builtins.")
