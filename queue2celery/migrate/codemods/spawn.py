"""Fire-and-forget starts of a mapped function -> ``task.delay(args)``::

asyncio.create_task(send_webhook(url, body))          -> send_webhook.delay(url, body)
threading.Thread(target=send_mail, args=(to,)).start() -> send_mail.delay(to)
executor.submit(resize, path)                          -> resize.delay(path)
loop.run_in_executor(None, audit, user_id)             -> audit.delay(user_id)
"""

from __future__ import annotations

from collections.abc import Mapping

import libcst as cst

from .._resolve import Resolver
from .._rules import Spawn
from ..config import MigrateConfig
from ._base import LegacyCallCodemod, Plan, chain_nodes

__all__ = ["ReplaceSpawnCommand"]

_SPAWN_TEXT = (b"create_task", b"ensure_future", b"Thread", b"submit", b"run_in_executor")


class ReplaceSpawnCommand(LegacyCallCodemod):
    """Replace a fire-and-forget ``create_task``/``Thread(...).start()``/``submit``/
    ``run_in_executor`` of a function mapped in ``[tool.queue2celery.functions]``.

    Only a start that is a statement of its own is rewritten; one whose handle is kept (in
    a set, with a done-callback) is reported and left alone, since the lines around it use
    the handle."""

    DESCRIPTION = "Replace create_task/Thread/submit of a mapped function with <task>.delay()."

    @classmethod
    def may_apply(cls, source: bytes, config: MigrateConfig) -> bool:
        return bool(config.functions) and any(t in source for t in _SPAWN_TEXT)

    @staticmethod
    def mapping(config: MigrateConfig) -> Mapping[str, str]:
        return config.functions

    def plan(self, node: cst.Call, resolver: Resolver) -> Plan | None:
        return None

    def plan_spawn(self, node: cst.Call, spawn: Spawn, resolver: Resolver) -> Plan | None:
        mapped = sorted(f for f in resolver.callable_ids(spawn.function) if f in self.functions)
        if not mapped:
            return None
        target = self.functions[mapped[0]]
        why = self.facts.kept_local(mapped[0])
        if why is not None:
            self.warn(f"{spawn.kind} of {mapped[0]} left unchanged: {why}")
            return None
        if not spawn.direct:
            self.warn(f"{spawn.kind} of {mapped[0]} left unchanged: its handle is kept")
            return None
        if spawn.args is None or any(a.star for a in spawn.args if a.star == "*"):
            self.warn(f"{spawn.kind} of {mapped[0]} left unchanged: its arguments are unknown")
            return None
        args = _separated(spawn.args)
        consumed = chain_nodes(spawn.function)
        starter = node.func
        if spawn.kind == "thread_start" and isinstance(starter, cst.Attribute):
            inner = starter.value
            if isinstance(inner, cst.Call):
                consumed += chain_nodes(inner.func)  # threading.Thread
        elif spawn.kind == "create_task":
            consumed += chain_nodes(node.func)  # asyncio.create_task
        return Plan(target, args, consumed, whitespace_before_args=cst.SimpleWhitespace(""))


def _separated(args: tuple[cst.Arg, ...]) -> tuple[cst.Arg, ...]:
    """The arguments with a comma between each and none after the last."""
    out: list[cst.Arg] = []
    for n, arg in enumerate(args):
        last = n == len(args) - 1
        if last:
            out.append(arg.with_changes(comma=cst.MaybeSentinel.DEFAULT))
        elif not isinstance(arg.comma, cst.Comma):
            out.append(
                arg.with_changes(comma=cst.Comma(whitespace_after=cst.SimpleWhitespace(" ")))
            )
        else:
            out.append(arg)
    return tuple(out)
