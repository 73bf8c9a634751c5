"""``background_tasks.add_task(fn, *args, **kwargs)`` -> ``task.delay(*args, **kwargs)``."""

from __future__ import annotations

import libcst as cst

from .._resolve import BACKGROUND_TASKS, Resolver
from ._base import LegacyCallCodemod, Plan, root_name

__all__ = ["ReplaceBackgroundTaskCommand"]


class ReplaceBackgroundTaskCommand(LegacyCallCodemod):
    """Replace ``add_task`` on a FastAPI ``BackgroundTasks`` when its function is mapped in
    ``[tool.queue2celery.functions]``; the ``BackgroundTasks`` parameter itself stays."""

    DESCRIPTION = "Replace BackgroundTasks.add_task(fn, ...) with <task>.delay(...)."

    def plan(self, node: cst.Call, resolver: Resolver) -> Plan | None:
        func = node.func
        if not (
            isinstance(func, cst.Attribute)
            and func.attr.value == "add_task"
            and isinstance(func.value, cst.Name)
            and node.args
            and node.args[0].keyword is None
            and not node.args[0].star
        ):
            return None
        if not resolver.declared_types(func.value) & BACKGROUND_TASKS:
            return None
        mapped = sorted(f for f in resolver.fqns(node.args[0].value) if f in self.functions)
        if not mapped:
            return None
        consumed = root_name(node.args[0].value)
        return Plan(
            self.functions[mapped[0]], tuple(node.args[1:]), (consumed,) if consumed else ()
        )
