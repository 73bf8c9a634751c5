"""``task_queue.put(item, block, timeout)`` -> ``process_task.delay(item)`` for mapped queues."""

from __future__ import annotations

from collections.abc import Sequence

import libcst as cst

from .._resolve import Resolver
from ._base import LegacyCallCodemod, Plan, root_name

__all__ = ["ReplaceQueuePutCommand"]

PUT_METHODS = frozenset({"put", "put_nowait"})


class ReplaceQueuePutCommand(LegacyCallCodemod):
    """Replace ``put``/``put_nowait`` on a mapped legacy queue with ``<task>.delay(item)``.

    Queue-control arguments (``block``, ``timeout``) mean nothing to Celery and are dropped.
    """

    DESCRIPTION = "Replace put()/put_nowait() on a mapped legacy queue with <task>.delay(item)."

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
            item = item.with_changes(comma=node.args[-1].comma)
        if item.keyword is not None:
            item = item.with_changes(keyword=None, equal=cst.MaybeSentinel.DEFAULT)
        consumed = root_name(func.value)
        return Plan(self.queues[mapped[0]], (item,), (consumed,) if consumed else ())


def _item(args: Sequence[cst.Arg]) -> cst.Arg | None:
    for arg in args:
        if arg.keyword is not None and arg.keyword.value == "item":
            return arg
    if args and args[0].keyword is None:
        return args[0]
    return None
