"""``background_tasks.add_task(fn, *args, **kwargs)`` -> ``task.delay(*args, **kwargs)``."""

from __future__ import annotations

from collections.abc import Mapping

import libcst as cst

from .._resolve import BACKGROUND_TASKS, Resolver
from ..config import MigrateConfig
from ._base import LegacyCallCodemod, Plan, chain_nodes, merge_whitespace

__all__ = ["ReplaceBackgroundTaskCommand"]


class ReplaceBackgroundTaskCommand(LegacyCallCodemod):
    """Replace ``add_task`` on a FastAPI ``BackgroundTasks`` when its function is mapped in
    ``[tool.queue2celery.functions]``. A ``BackgroundTasks`` parameter no longer used goes,
    with its import when nothing else uses it."""

    DESCRIPTION = "Replace BackgroundTasks.add_task(fn, ...) with <task>.delay(...)."
    CALL_TEXT = b"add_task"

    @staticmethod
    def mapping(config: MigrateConfig) -> Mapping[str, str]:
        return config.functions

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
        why = self.facts.kept_local(mapped[0])
        if why is not None:
            self.warn(f"add_task of {mapped[0]} left unchanged: {why}")
            return None
        first = node.args[0]
        before = None
        if isinstance(first.comma, cst.Comma):
            # A comment after the dropped function moves up next to the opening parenthesis.
            merged = merge_whitespace(first.comma.whitespace_after, node.whitespace_before_args)
            before = merged if merged is not node.whitespace_before_args else None
        if len(node.args) == 1:
            before = cst.SimpleWhitespace("")  # add_task(fn) -> delay()
        return Plan(
            self.functions[mapped[0]],
            tuple(node.args[1:]),
            chain_nodes(first.value),
            whitespace_before_args=before,
            receiver=func.value,
        )
