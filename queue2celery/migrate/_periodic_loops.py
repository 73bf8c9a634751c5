"""Is this ``while`` loop periodic work? The loop shapes, and the look-alikes that are not.

Periodic: an unbounded loop (``while True``, ``while self.running``, ``while not
stop.is_set()``) that sleeps on its normal path (``time.sleep(N)``, ``await asyncio.sleep(N)``,
``stop.wait(N)``) and does some work. Not periodic, and kept silent: a retry loop (it sleeps
only when an attempt failed, or leaves the loop once one succeeds), a polling wait (it returns
or breaks once the thing it waits for is there), an SSE stream (a generator), a websocket
keep-alive (it sends pings), a consumer (it reads from a queue).
"""

from __future__ import annotations

import ast
from collections.abc import Iterator

__all__ = ["SLEEPS", "QUEUE_READS", "is_generator", "normal_path", "sleep_arg", "unbounded"]

SLEEPS = frozenset(
    {"time.sleep", "asyncio.sleep", "gevent.sleep", "trio.sleep", "anyio.sleep", "eventlet.sleep"}
)
# Methods that take work from a queue or a stream: a loop around one is a consumer.
QUEUE_READS = frozenset(
    {
        "get_nowait",
        "blpop",
        "brpop",
        "brpoplpush",
        "blmove",
        "xread",
        "xreadgroup",
        "recv",
        "receive",
        "receive_json",
        "receive_text",
        "receive_bytes",
        "consume",
        "getmessage",
        "get_message",
        "listen",
        "basic_get",
        "poll",
    }
)
KEEPALIVE = frozenset({"send_json", "send_text", "send_bytes", "ping"})
LOGGING = frozenset(
    {"debug", "info", "warning", "warn", "error", "exception", "critical", "log", "print"}
)


def unbounded(test: ast.expr) -> bool:
    """``True``, ``1``, a flag, ``not`` a flag or an event: a loop that runs until stopped
    (a comparison, as in ``while attempts < 5``, bounds it: a retry or polling loop)."""
    if isinstance(test, ast.Constant):
        return bool(test.value) is True
    if isinstance(test, ast.UnaryOp) and isinstance(test.op, ast.Not):
        test = test.operand
    if isinstance(test, (ast.Name, ast.Attribute)):
        return True
    if isinstance(test, ast.Call) and isinstance(test.func, ast.Attribute):
        return test.func.attr in ("is_set", "wait", "is_running", "running")
    return False


def sleep_arg(call: ast.Call, qualify: object) -> ast.expr | None | bool:
    """The duration a sleep-like call waits: its expression, None when it has none (a sleep
    of unknown length), False when ``call`` is not a sleep. ``qualify(expr)`` -> fqn."""
    func = call.func
    name = qualify(func) if callable(qualify) else None
    if name in SLEEPS:
        return _first_or_kw(call, ("seconds", "delay", "secs"))
    if isinstance(func, ast.Attribute):
        if func.attr == "wait" and (call.args or call.keywords):
            return _first_or_kw(call, ("timeout",))  # threading/asyncio Event.wait(timeout)
        if func.attr == "wait_for" and name in ("asyncio.wait_for", None):
            inner = call.args[0] if call.args else None
            if isinstance(inner, ast.Call) and isinstance(inner.func, ast.Attribute):
                if inner.func.attr == "wait":
                    for kw in call.keywords:
                        if kw.arg == "timeout":
                            return kw.value
                    return call.args[1] if len(call.args) > 1 else None
        if func.attr == "idle_seconds":
            return None
    return False


def _first_or_kw(call: ast.Call, keys: tuple[str, ...]) -> ast.expr | None:
    if call.args:
        return call.args[0]
    for kw in call.keywords:
        if kw.arg in keys:
            return kw.value
    return None


def normal_path(body: list[ast.stmt]) -> Iterator[ast.stmt]:
    """The statements every pass of the loop runs (a ``try``'s body, ``else`` and ``finally``
    count; its ``except`` handlers and ``if`` branches do not)."""
    for stmt in body:
        if isinstance(stmt, ast.Try) or type(stmt).__name__ == "TryStar":
            yield from normal_path(stmt.body)  # type: ignore[attr-defined]
            yield from normal_path(stmt.orelse)  # type: ignore[attr-defined]
            yield from normal_path(stmt.finalbody)  # type: ignore[attr-defined]
        elif isinstance(stmt, (ast.With, ast.AsyncWith)):
            yield from normal_path(stmt.body)
        else:
            yield stmt


def own_nodes(node: ast.AST) -> Iterator[ast.AST]:
    """Every node under ``node`` except inside nested functions, lambdas and classes."""
    stack = list(ast.iter_child_nodes(node))
    while stack:
        child = stack.pop()
        if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda, ast.ClassDef)):
            continue
        yield child
        stack.extend(ast.iter_child_nodes(child))


def is_generator(func: ast.FunctionDef | ast.AsyncFunctionDef) -> bool:
    return any(isinstance(n, (ast.Yield, ast.YieldFrom)) for n in own_nodes(func))


def called(stmt: ast.stmt) -> ast.Call | None:
    """The call a statement consists of: ``f()``, ``await f()``, ``x = f()``."""
    value: ast.expr | None = None
    if isinstance(stmt, ast.Expr):
        value = stmt.value
    elif isinstance(stmt, (ast.Assign, ast.AnnAssign)) and stmt.value is not None:
        value = stmt.value
    if isinstance(value, ast.Await):
        value = value.value
    return value if isinstance(value, ast.Call) else None


def is_logging(call: ast.Call) -> bool:
    func = call.func
    name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
    if name not in LOGGING:
        return False
    if isinstance(func, ast.Attribute):
        receiver = func.value
        text = receiver.id if isinstance(receiver, ast.Name) else getattr(receiver, "attr", "")
        return "log" in text.lower()
    return name == "print"


def is_stop_check(stmt: ast.stmt) -> bool:
    """``if self._stopped: break`` / ``if not running: return``: leaving when told to."""
    if not isinstance(stmt, ast.If) or stmt.orelse:
        return False
    return all(
        isinstance(s, (ast.Break, ast.Return, ast.Continue)) or _is_log(s) for s in stmt.body
    )


def _is_log(stmt: ast.stmt) -> bool:
    call = called(stmt)
    return call is not None and is_logging(call)


# Methods that change a dict, list, set or deque in place (a write to process state).
MUTATING = frozenset(
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
        "remove",
        "discard",
        "clear",
        "setdefault",
    }
)
