"""``task_queue.put(item, block, timeout)`` -> ``process_task.delay(item)`` for mapped queues."""

from __future__ import annotations

from collections.abc import Sequence

import libcst as cst

from .._resolve import Resolver
from .._rules import is_sentinel, payload_class, priority_shape, priority_split
from ._base import LegacyCallCodemod, Plan, chain_nodes, merge_whitespace

__all__ = ["ReplaceQueuePutCommand"]

PUT_METHODS = frozenset({"put", "put_nowait"})


class ReplaceQueuePutCommand(LegacyCallCodemod):
    """Replace ``put``/``put_nowait`` on a mapped legacy queue with ``<task>.delay(item)``.

    Queue-control arguments (``block``, ``timeout``) mean nothing to Celery and are dropped.
    A ``priority=`` keyword is not: that call becomes ``<task>.apply_async((item,),
    priority=...)``, with a warning on the differences (Celery on Redis: 0-9, 0 highest).
    """

    DESCRIPTION = "Replace put()/put_nowait() on a mapped legacy queue with <task>.delay(item)."

    CALL_TEXT = b"put"

    def plan(self, node: cst.Call, resolver: Resolver) -> Plan | None:
        func = node.func
        if not isinstance(func, cst.Attribute) or func.attr.value not in PUT_METHODS:
            return None
        mapped = sorted(q for q in resolver.fqns(func.value) if q in self.queues)
        if not mapped:
            return None
        if any(arg.star for arg in node.args):
            self.warn(f"{mapped[0]}.{func.attr.value}(*args) left unchanged: the item is unknown")
            return None
        item = _item(node.args)
        if item is None:
            return None
        where = f"{mapped[0]}.{func.attr.value}"
        if is_sentinel(item.value):
            self.warn(f"{where}({_code(item.value)}) left unchanged: a shutdown sentinel")
            return None
        cls = payload_class(item.value, resolver)
        if cls is not None and not self._carried(cls):
            self.warn(
                f"{where}(...) left unchanged: the payload is a {cls} object, which Celery's "
                f"JSON cannot carry; list it in [tool.queue2celery] types once adopt(types=...)"
                " carries it, or send its fields"
            )
            return None
        if item.keyword is not None:
            item = item.with_changes(keyword=None, equal=cst.MaybeSentinel.DEFAULT)
        target = self.queues[mapped[0]]
        prioritised = mapped[0] in self.facts.priority_queues
        if prioritised and priority_shape(item.value) == "unsplit":
            if _keyword(node.args, "priority") is None:
                self.warn(
                    f"{where}((priority, x, item)) left unchanged: x is not recognisably a "
                    "counter, so the item cannot be told from a tie-breaker; send the item "
                    f"with {target}.apply_async((item,), priority=...)"
                )
                return None
        split = priority_split(item.value) if prioritised else None
        if split is not None and _keyword(node.args, "priority") is None:
            prio, entry = split
            self.warn(
                f"{where}((priority, item)) became {target}.apply_async((item,), priority=...):"
                " Celery on Redis takes priorities 0-9, 0 runs first"
            )
            item = item.with_changes(value=entry)
            given = cst.Arg(
                prio,
                keyword=cst.Name("priority"),
                equal=cst.AssignEqual(
                    whitespace_before=cst.SimpleWhitespace(""),
                    whitespace_after=cst.SimpleWhitespace(""),
                ),
            )
            return Plan(
                target,
                _with_priority(item, given, node.args[-1]),
                chain_nodes(func.value),
                method="apply_async",
            )
        priority = _keyword(node.args, "priority")
        if priority is None:
            if item.value is not node.args[-1].value:
                item = _as_last(item, node.args[-1])
            return Plan(target, (item,), chain_nodes(func.value))
        self.warn(
            f"{mapped[0]}.{func.attr.value}(..., priority=...) became {target}.apply_async: "
            "Celery on Redis takes priorities 0-9 (0 runs first, values outside are clamped, "
            "and only the steps 0, 3, 6, 9 are kept apart unless broker_transport_options "
            "sets priority_steps)"
        )
        return Plan(
            target,
            _with_priority(item, priority, node.args[-1]),
            chain_nodes(func.value),
            method="apply_async",
        )

    def _carried(self, cls: str) -> bool:
        short = cls.rpartition(".")[2]
        return any(t == cls or t.rpartition(".")[2] == short for t in self.config.types)


def _code(expr: cst.BaseExpression) -> str:
    return cst.Module([]).code_for_node(expr)


def _keyword(args: Sequence[cst.Arg], name: str) -> cst.Arg | None:
    return next((a for a in args if a.keyword is not None and a.keyword.value == name), None)


def _with_priority(item: cst.Arg, priority: cst.Arg, closing: cst.Arg) -> tuple[cst.Arg, cst.Arg]:
    """``(item,), priority=p``: the item packed as the args tuple, then priority with the
    call's closing layout (the last argument's trailing comma and newline)."""
    packed = cst.Tuple([cst.Element(item.value, comma=cst.Comma())])
    space = cst.Comma(whitespace_after=cst.SimpleWhitespace(" "))
    first = item.with_changes(
        value=packed,
        comma=item.comma if isinstance(item.comma, cst.Comma) else space,
        whitespace_after_arg=cst.SimpleWhitespace(""),
    )
    last = priority.with_changes(
        comma=closing.comma, whitespace_after_arg=closing.whitespace_after_arg
    )
    return first, last


def _item(args: Sequence[cst.Arg]) -> cst.Arg | None:
    for arg in args:
        if arg.keyword is not None and arg.keyword.value == "item":
            return arg
    if args and args[0].keyword is None:
        return args[0]
    return None


def _as_last(item: cst.Arg, last: cst.Arg) -> cst.Arg:
    """``item`` in the place of the dropped last argument: its closing layout, its own
    comment kept."""
    own = item.comma.whitespace_after if isinstance(item.comma, cst.Comma) else None
    if isinstance(last.comma, cst.Comma):
        after = merge_whitespace(own, last.comma.whitespace_after) if own else None
        comma = last.comma if after is None else last.comma.with_changes(whitespace_after=after)
        return item.with_changes(comma=comma, whitespace_after_arg=last.whitespace_after_arg)
    if own is not None and isinstance(own, cst.ParenthesizedWhitespace) and own.first_line.comment:
        # No trailing comma in the source, but the item's comment must survive: keep its comma.
        assert isinstance(item.comma, cst.Comma)
        comma = item.comma.with_changes(
            whitespace_after=merge_whitespace(own, last.whitespace_after_arg)
        )
        return item.with_changes(comma=comma, whitespace_after_arg=cst.SimpleWhitespace(""))
    return item.with_changes(
        comma=cst.MaybeSentinel.DEFAULT, whitespace_after_arg=last.whitespace_after_arg
    )
