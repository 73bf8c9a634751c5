"""``task_queue.put(item, block, timeout)`` -> ``process_task.delay(item)`` for mapped queues."""

from __future__ import annotations

from collections.abc import Sequence

import libcst as cst

from .._resolve import Resolver
from ._base import LegacyCallCodemod, Plan, chain_nodes, merge_whitespace

__all__ = ["ReplaceQueuePutCommand"]

PUT_METHODS = frozenset({"put", "put_nowait"})


class ReplaceQueuePutCommand(LegacyCallCodemod):
    """Replace ``put``/``put_nowait`` on a mapped legacy queue with ``<task>.delay(item)``.

    Queue-control arguments (``block``, ``timeout``) mean nothing to Celery and are dropped.
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
        if item is not node.args[-1]:
            item = _as_last(item, node.args[-1])
        if item.keyword is not None:
            item = item.with_changes(keyword=None, equal=cst.MaybeSentinel.DEFAULT)
        return Plan(self.queues[mapped[0]], (item,), chain_nodes(func.value))


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
