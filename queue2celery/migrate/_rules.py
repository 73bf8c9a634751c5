"""One rule set for "what is a legacy site", shared by scan's collector (:mod:`._analyze`)
and rewrite's planner (:mod:`.codemods._base`), so the two can never disagree.

:class:`SiteRules` is the visitor base both extend. It tracks what decides whether a call
can be a site at all: inside a decorator (``@router.put``) it never is; awaited it is not
fire-and-forget; its result dropped (an expression statement, or only kept in a set for a
strong reference) it is; inside a lifespan/startup function it starts the app's own
machinery, not per-request work. It also recognises the fire-and-forget shapes
(``create_task``, ``Thread(...).start()``, ``executor.submit``, ``run_in_executor``) and the
payload shapes rewrite must not turn into a task (a shutdown sentinel, a priority tuple).
"""

from __future__ import annotations

import ast
from dataclasses import dataclass, field

import libcst as cst

# The words and names the rules key on are the ast rules' own: one list, so the two
# twins cannot drift.
from ._ast_rules import (
    _CREATE_TASK,
    _EXECUTORS,
    _HANDLE_METHODS,
    _KEEP_METHODS,
    _LOOP_METHODS,
    _SENTINEL_WORDS,
    _STARTUP_NAMES,
)
from ._ast_rules import priority_shape as ast_priority_shape
from ._resolve import RET, TYPE, Resolver

__all__ = [
    "SiteRules",
    "Spawn",
    "is_sentinel",
    "payload_class",
    "priority_shape",
    "priority_split",
]


@dataclass(frozen=True)
class Spawn:
    """A fire-and-forget start of work: ``kind`` (create_task, thread_start,
    executor_submit), the callable run and the arguments it gets (None when they cannot be
    read from the call, e.g. ``args=some_tuple``)."""

    kind: str
    function: cst.BaseExpression
    args: tuple[cst.Arg, ...] | None
    direct: bool = True  # the call itself is the statement (rewrite can replace it)


@dataclass
class _Frame:
    startup: bool
    node: cst.FunctionDef | None = None
    gets: frozenset[str] | None = None  # receivers `.get()` is called on (computed lazily)
    pending: dict[str, list[object]] = field(default_factory=dict)
    # name -> [call node, Spawn | None (a Thread not started yet), uses, harmless uses]


class SiteRules(cst.CSTVisitor):
    """Visitor base: subclasses call :meth:`may_enqueue` for put-like calls and get
    fire-and-forget starts through :meth:`on_spawn`. Subclasses that override a
    ``visit_``/``leave_`` method below call ``super()``."""

    def __init__(self, resolver: Resolver) -> None:
        super().__init__()
        self.r = resolver
        self._decorators = 0
        self._awaited: set[int] = set()
        self._dropped: set[int] = set()
        self._with_bound: set[int] = set()
        self._frames: list[_Frame] = []

    # -- hooks ---------------------------------------------------------------------------
    def on_spawn(self, node: cst.Call, spawn: Spawn) -> None:
        """A fire-and-forget start found at ``node`` (override)."""

    def kept_put(self, node: cst.Call) -> str | None:
        """Why a put must stay as it is, by the same rules scan reports as risks: a put
        inside the loop that drains the same queue (a re-queue: Celery's retry/countdown/eta
        replace it) or at startup (re-putting persisted work would send it on every start)."""
        func = node.func
        if not self._frames or not isinstance(func, cst.Attribute):
            return None
        frame = self._frames[-1]
        name = frame.node.name.value.lower() if frame.node is not None else ""
        if frame.startup or any(w in name for w in _RELOAD_WORDS):
            return "it re-puts work at startup (the broker keeps it with Celery)"
        if frame.gets is None and frame.node is not None:
            collector = _Gets()
            frame.node.body.visit(collector)
            frame.gets = frozenset(collector.receivers)
        if frame.gets and _code(func.value) in frame.gets:
            return (
                "it re-queues from the consumer that drains the same queue (use the task's "
                "retry, countdown or eta)"
            )
        return None

    def enclosing_function(self) -> cst.FunctionDef | None:
        """The innermost function being visited (None at module level)."""
        return self._frames[-1].node if self._frames else None

    def may_enqueue(self, node: cst.Call) -> bool:
        """A put-like call that can be an enqueue site: not a decorator (``@router.put``),
        not awaited (``await asyncio_queue.put``)."""
        return not self._decorators and id(node) not in self._awaited

    # -- structure -----------------------------------------------------------------------
    def visit_Decorator(self, node: cst.Decorator) -> None:
        self._decorators += 1

    def leave_Decorator(self, original_node: cst.Decorator) -> None:
        self._decorators -= 1

    def visit_Await(self, node: cst.Await) -> None:
        self._awaited.add(id(node.expression))

    def visit_Expr(self, node: cst.Expr) -> None:
        if isinstance(node.value, cst.Call):
            self._dropped.add(id(node.value))

    def visit_WithItem(self, node: cst.WithItem) -> None:
        if node.asname is not None and isinstance(node.asname.name, cst.Name):
            self._with_bound.add(id(node.asname.name))

    def visit_FunctionDef(self, node: cst.FunctionDef) -> None:
        outer = bool(self._frames) and self._frames[-1].startup
        self._frames.append(_Frame(outer or _is_startup(node), node))

    def leave_FunctionDef(self, original_node: cst.FunctionDef) -> None:
        frame = self._frames.pop()
        for call, spawn, uses, harmless in frame.pending.values():
            if isinstance(spawn, Spawn) and uses == harmless:
                assert isinstance(call, cst.Call)
                self.on_spawn(call, spawn)

    def visit_Name(self, node: cst.Name) -> None:
        if self._frames and node.value in self._frames[-1].pending:
            entry = self._frames[-1].pending[node.value]
            entry[2] = int(entry[2]) + 1  # type: ignore[call-overload]

    def visit_Assign(self, node: cst.Assign) -> None:
        if not self._frames or len(node.targets) != 1:
            return
        target = node.targets[0].target
        frame = self._frames[-1]
        if isinstance(target, cst.Attribute) and isinstance(target.value, cst.Name):
            if target.value.value in frame.pending and target.attr.value == "daemon":
                self._harmless(target.value.value)
            return
        if not isinstance(target, cst.Name) or not isinstance(node.value, cst.Call):
            return
        spawn = self._spawn_shape(node.value)
        if spawn is not None and not frame.startup:
            # -1: the assignment's own Name is visited as a use too.
            frame.pending[target.value] = [node.value, _indirect(spawn), -1, 0]
        elif self._thread_call(node.value) and not frame.startup:
            frame.pending[target.value] = [node.value, None, -1, 0]

    def _harmless(self, name: str) -> None:
        entry = self._frames[-1].pending[name]
        entry[3] = int(entry[3]) + 1  # type: ignore[call-overload]

    # -- calls ---------------------------------------------------------------------------
    def visit_Call(self, node: cst.Call) -> None:
        func = node.func
        if self._frames and isinstance(func, cst.Attribute):
            pending = self._frames[-1].pending
            if func.attr.value in _KEEP_METHODS and len(node.args) == 1:
                arg = node.args[0].value
                if isinstance(arg, cst.Name) and arg.value in pending:
                    self._harmless(arg.value)
                elif isinstance(arg, cst.Call) and id(node) in self._dropped:
                    self._dropped.add(id(arg))  # tasks.add(asyncio.create_task(...))
            receiver = func.value
            if isinstance(receiver, cst.Name) and receiver.value in pending:
                if func.attr.value in _HANDLE_METHODS:
                    self._harmless(receiver.value)
                    entry = pending[receiver.value]
                    if func.attr.value == "start" and entry[1] is None:
                        call = entry[0]
                        assert isinstance(call, cst.Call)
                        entry[1] = _indirect(_thread_spawn(call))
        if self._decorators or not self._frames or self._frames[-1].startup:
            return
        if id(node) not in self._dropped:
            return
        spawn = self._spawn_shape(node)
        if spawn is not None:
            self.on_spawn(node, spawn)

    def _spawn_shape(self, node: cst.Call) -> Spawn | None:
        func = node.func
        positional = [a for a in node.args if a.keyword is None and not a.star]
        names = self.r.fqns(func)
        if names & _CREATE_TASK or (
            isinstance(func, cst.Attribute)
            and func.attr.value in _LOOP_METHODS
            and _loop_like(func.value, self.r)
        ):
            if positional and isinstance(positional[0].value, cst.Call):
                coro = positional[0].value
                return Spawn("create_task", coro.func, tuple(coro.args))
            return None
        if not isinstance(func, cst.Attribute):
            return None
        method = func.attr.value
        if method == "start" and isinstance(func.value, cst.Call):
            if self._thread_call(func.value):
                return _thread_spawn(func.value)
        if method == "submit" and positional and self._executor(func.value):
            return Spawn("executor_submit", positional[0].value, tuple(node.args[1:]))
        if method == "run_in_executor" and len(positional) >= 2:
            return Spawn("executor_submit", positional[1].value, tuple(node.args[2:]))
        return None

    def _thread_call(self, node: cst.Call) -> bool:
        return "threading.Thread" in self.r.fqns(node.func) and any(
            a.keyword is not None and a.keyword.value == "target" for a in node.args
        )

    def _executor(self, receiver: cst.BaseExpression) -> bool:
        if isinstance(receiver, cst.Name) and self.r.scope_binds(receiver, self._with_bound):
            return False  # `with ThreadPoolExecutor() as ex`: the block waits for its futures
        kinds = self.r.receivers(receiver)
        if any(k.split(":", 1)[-1] in _EXECUTORS for k in kinds):
            return True
        last = receiver.attr.value if isinstance(receiver, cst.Attribute) else ""
        last = receiver.value if isinstance(receiver, cst.Name) else last
        return "executor" in last.lower() or last.lower().endswith("pool")


_RELOAD_WORDS = ("reload", "restore", "resume", "recover", "load_pending")


class _Gets(cst.CSTVisitor):
    def __init__(self) -> None:
        super().__init__()
        self.receivers: set[str] = set()

    def visit_Call(self, node: cst.Call) -> None:
        func = node.func
        if isinstance(func, cst.Attribute) and func.attr.value in ("get", "get_nowait"):
            self.receivers.add(_code(func.value))


def _code(expr: cst.BaseExpression) -> str:
    return cst.Module([]).code_for_node(expr)


def _indirect(spawn: Spawn) -> Spawn:
    return Spawn(spawn.kind, spawn.function, spawn.args, direct=False)


def _thread_spawn(call: cst.Call) -> Spawn:
    target: cst.BaseExpression = cst.Name("None")
    args: tuple[cst.Arg, ...] | None = ()
    for arg in call.args:
        if arg.keyword is None:
            continue
        if arg.keyword.value == "target":
            target = arg.value
        elif arg.keyword.value == "args":
            if isinstance(arg.value, (cst.Tuple, cst.List)):
                args = tuple(
                    cst.Arg(e.value) for e in arg.value.elements if isinstance(e, cst.Element)
                )
            else:
                args = None
        elif arg.keyword.value == "kwargs":
            args = None
    return Spawn("thread_start", target, args)


def _loop_like(expr: cst.BaseExpression, resolver: Resolver) -> bool:
    names = resolver.receivers(expr)
    if any(n.endswith(("get_event_loop", "get_running_loop", "new_event_loop")) for n in names):
        return True
    last = expr.attr.value if isinstance(expr, cst.Attribute) else ""
    last = expr.value if isinstance(expr, cst.Name) else last
    return "loop" in last.lower()


def _is_startup(node: cst.FunctionDef) -> bool:
    if node.name.value in _STARTUP_NAMES:
        return True
    for decorator in node.decorators:
        expr = decorator.decorator
        if isinstance(expr, cst.Call):
            if (
                isinstance(expr.func, cst.Attribute)
                and expr.func.attr.value == "on_event"
                and expr.args
                and isinstance(expr.args[0].value, cst.SimpleString)
                and "startup" in expr.args[0].value.value
            ):
                return True
            expr = expr.func
        name = expr.attr.value if isinstance(expr, cst.Attribute) else ""
        name = expr.value if isinstance(expr, cst.Name) else name
        if name == "asynccontextmanager" and "lifespan" in node.name.value:
            return True
    return False


def is_sentinel(expr: cst.BaseExpression) -> bool:
    """``put(None)``, ``put(STOP)`` or ``put((0, None))`` (a PriorityQueue entry): a
    consumer's shutdown signal, never a task."""
    if isinstance(expr, cst.Tuple) and len(expr.elements) in (2, 3):
        return is_sentinel(expr.elements[-1].value)
    if isinstance(expr, cst.Name):
        if expr.value == "None":
            return True
        upper = expr.value.upper()
        return expr.value == upper and any(w in upper for w in _SENTINEL_WORDS)
    if isinstance(expr, cst.Attribute):
        name = expr.attr.value
        return name == name.upper() and any(w in name for w in _SENTINEL_WORDS)
    return False


def priority_shape(expr: cst.BaseExpression) -> str:
    """``"split"``, ``"unsplit"`` or ``""``, as :func:`._ast_rules.priority_shape` says of
    the same code (one rule: the twins never disagree)."""
    if not isinstance(expr, cst.Tuple) or len(expr.elements) not in (2, 3):
        return ""
    if any(isinstance(e, cst.StarredElement) for e in expr.elements):
        return ""
    code = cst.Module([]).code_for_node
    try:
        parsed = ast.parse("(" + code(expr) + "\n)", mode="eval").body
    except (SyntaxError, ValueError):
        return ""
    return ast_priority_shape(parsed, code(expr.elements[0].value))


def priority_split(
    expr: cst.BaseExpression,
) -> tuple[cst.BaseExpression, cst.BaseExpression] | None:
    """``(priority, item)`` or ``(priority, counter, item)``, the PriorityQueue idiom, as
    ``(priority, item)``; None for other payloads, and for a ``(priority, x, item)`` whose
    ``x`` is not recognisably a counter (see :func:`priority_shape`: ``"unsplit"``)."""
    if priority_shape(expr) != "split":
        return None
    assert isinstance(expr, cst.Tuple)
    return expr.elements[0].value, expr.elements[-1].value


def payload_class(expr: cst.BaseExpression, resolver: Resolver) -> str | None:
    """The class whose instance ``expr`` is, when the source says so: ``Task(...)``, a local
    assigned ``Task(...)``, a parameter annotated ``Task``, or the item of a priority tuple."""
    if isinstance(expr, cst.Tuple) and expr.elements:
        return payload_class(expr.elements[-1].value, resolver)
    if isinstance(expr, cst.Call):
        names = sorted(resolver.fqns(expr.func))
        return names[0] if names and _class_like(names[0]) else None
    if isinstance(expr, cst.Name):
        for name in sorted(resolver.receivers(expr)):
            if name.startswith(RET) and _class_like(name[len(RET) :]):
                return name[len(RET) :]
            if name.startswith(TYPE):
                return name[len(TYPE) :]
    return None


def _class_like(name: str) -> bool:
    # Classes are CapWords by convention (PEP 8); functions building JSON-safe values and
    # constants are not.
    last = name.rpartition(".")[2]
    return last[:1].isupper() and not last.isupper() and not name.startswith("builtins.")
