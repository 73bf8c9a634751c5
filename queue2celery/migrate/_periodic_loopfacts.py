"""Loop facts for the periodic collector: is a function's ``while`` loop periodic work, and
what does each pass call (see :mod:`._periodic_loops` for the shapes)."""

from __future__ import annotations

import ast

from . import _periodic_loops as loops
from ._periodic_collect_base import CollectorBase, is_sleep_call
from ._periodic_facts import LoopFact
from ._periodic_names import text
from ._periodic_words import IO_METHODS, IO_PREFIXES

__all__ = ["LoopFacts"]


class LoopFacts(CollectorBase):
    def _loop(self, whiles: list[ast.While], generator: bool) -> LoopFact | None:
        """The first periodic loop among a function's own ``while`` loops."""
        if generator:
            return None  # an SSE stream or any generator: it yields, it does not run jobs
        for node in whiles:
            fact = self._loop_fact(node)
            if fact is not None:
                return fact
        return None

    def _loop_fact(self, loop: ast.While) -> LoopFact | None:
        if not loops.unbounded(loop.test):
            return None
        everything = list(loops.own_nodes(loop))
        calls = [n for n in everything if isinstance(n, ast.Call)]
        for call in calls:
            if isinstance(call.func, ast.Attribute):
                attr = call.func.attr
                if attr in loops.QUEUE_READS or attr in loops.KEEPALIVE:
                    return None
                if attr == "get" and (
                    not call.args or any(k.arg in ("timeout", "block") for k in call.keywords)
                ):
                    return None  # q.get(), q.get(timeout=1): a consumer
        sleep: ast.expr | None | bool = False
        sleep_index = -1
        work: list[ast.stmt] = []
        if isinstance(loop.test, ast.UnaryOp) and isinstance(loop.test.operand, ast.Call):
            sleep = loops.sleep_arg(loop.test.operand, self.n.fqn)
        for stmt in loops.normal_path(loop.body):
            each = loops.called(stmt)
            if isinstance(stmt, (ast.Break, ast.Return)):
                return None  # leaves after one pass: a retry or a polling wait
            if each is not None:
                found = loops.sleep_arg(each, self.n.fqn)
                if found is not False:
                    sleep, sleep_index = found, len(work)
                    continue
                if loops.is_logging(each):
                    continue
            if isinstance(stmt, (ast.Pass, ast.Continue)) or loops.is_stop_check(stmt):
                continue
            if isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Constant):
                continue
            if _sets_test_name(stmt, loop.test):
                return None  # `while not done: ...; done = check()`: waiting for something
            work.append(stmt)
        if sleep is False or sleep is True or not work:
            return None
        run_pending = any(
            isinstance(c.func, ast.Attribute) and c.func.attr == "run_pending" for c in calls
        )
        tick = None
        only = loops.called(work[0]) if len(work) == 1 else None
        if only is not None:
            tick = self._callref(only)
        names = [
            self.n.fqn(c.func) or (f".{c.func.attr}" if isinstance(c.func, ast.Attribute) else "?")
            for c in calls
        ]
        io = any(
            isinstance(n, ast.Await) and not is_sleep_call(n.value, self.n) for n in everything
        ) or any(n.startswith(IO_PREFIXES) or n.lstrip(".") in IO_METHODS for n in names)
        line, col = self._pos(loop)
        return LoopFact(
            line,
            col,
            self._sym(sleep) if sleep is not None else ("src", "?"),
            text(sleep) if sleep is not None else "?",
            sleep_index >= len(work),
            tick,
            tuple(sorted(set(names))),
            io,
            run_pending,
        )


def _sets_test_name(stmt: ast.stmt, test: ast.expr) -> bool:
    """Whether ``stmt`` assigns the name the loop's test reads (``while not result``)."""
    if isinstance(test, ast.UnaryOp):
        test = test.operand
    if not isinstance(test, ast.Name) or not isinstance(stmt, (ast.Assign, ast.AnnAssign)):
        return False
    targets = stmt.targets if isinstance(stmt, ast.Assign) else [stmt.target]
    return any(isinstance(t, ast.Name) and t.id == test.id for t in targets)
