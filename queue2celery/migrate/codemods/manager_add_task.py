"""``task_manager.add_task(...)`` -> ``task.delay(...)`` for a mapped home-made manager."""

from __future__ import annotations

import libcst as cst

from .._resolve import BACKGROUND_TASKS, Resolver
from ._base import LegacyCallCodemod, Plan, chain_nodes
from ._signatures import mismatch

__all__ = ["ReplaceManagerAddTaskCommand"]


class ReplaceManagerAddTaskCommand(LegacyCallCodemod):
    """Replace ``add_task`` on a task manager mapped in ``[tool.queue2celery.queues]``.

    The mapped Celery task replaces ``add_task`` itself, so it receives the same arguments;
    a call that does not fit the task's signature is left as it is, with a warning.
    """

    DESCRIPTION = "Replace add_task(...) on a mapped task manager with <task>.delay(...)."

    CALL_TEXT = b"add_task"

    def plan(self, node: cst.Call, resolver: Resolver) -> Plan | None:
        func = node.func
        if not isinstance(func, cst.Attribute) or func.attr.value != "add_task":
            return None
        if (
            isinstance(func.value, cst.Name)
            and resolver.declared_types(func.value) & BACKGROUND_TASKS
        ):
            return None
        mapped = sorted(q for q in resolver.fqns(func.value) if q in self.queues)
        if not mapped:
            return None
        target = self.queues[mapped[0]]
        why = mismatch(target, self.facts.signatures.get(target), node.args)
        if why is not None:
            self.warn(
                f"{mapped[0]}.add_task(...) left unchanged: {why}; map the manager's queue "
                "(module.Class.attribute) instead, so that rewrite changes the put inside "
                "add_task, or map it to a task with add_task's signature"
            )
            return None
        return Plan(target, tuple(node.args), chain_nodes(func.value))
