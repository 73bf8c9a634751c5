"""What the live workers say, in one bounded round of broadcasts (for ``locate_task``)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from celery import Celery

__all__ = ["WorkersSnapshot", "snapshot"]


@dataclass
class WorkersSnapshot:
    """The workers that answered a ping, and what each holds, knows and consumes."""

    nodes: list[str] = field(default_factory=list)
    active: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    reserved: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    scheduled: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    registered: dict[str, list[str]] = field(default_factory=dict)
    queues: dict[str, list[str]] = field(default_factory=dict)

    def holding(self, task_id: str) -> tuple[str, str, dict[str, Any]] | None:
        """``(kind, node, info)`` for the worker holding ``task_id``; kind is active,
        scheduled or reserved."""
        for kind, replies in (
            ("active", self.active),
            ("scheduled", self.scheduled),
            ("reserved", self.reserved),
        ):
            for node, entries in replies.items():
                for entry in entries:
                    request = entry.get("request") if kind == "scheduled" else entry
                    if isinstance(request, Mapping) and request.get("id") == task_id:
                        info = dict(entry)
                        if kind == "scheduled":
                            info.setdefault("name", request.get("name"))
                        return kind, node, info
        return None

    def consumers(self, queue: str) -> list[str]:
        return sorted(node for node, names in self.queues.items() if queue in names)

    def knows(self, task_name: str) -> bool:
        return any(task_name in names for names in self.registered.values())


def _reply(inspect: Any, method: str) -> dict[str, Any]:
    try:
        replies = getattr(inspect, method)() or {}
    except Exception:
        return {}
    return dict(replies)


def snapshot(app: Celery, timeout: float) -> WorkersSnapshot:
    """Ping (one full ``timeout``), then ask the nodes that answered (each returns early)."""
    try:
        replies = app.control.ping(timeout=timeout) or []
    except Exception:
        return WorkersSnapshot()
    nodes = sorted({node for reply in replies for node in reply})
    if not nodes:
        return WorkersSnapshot()
    inspect = app.control.inspect(destination=nodes, timeout=timeout, limit=len(nodes))
    registered = {
        node: [str(n).split(" ", 1)[0] for n in names]
        for node, names in _reply(inspect, "registered").items()
    }
    queues = {
        node: [str(q.get("name")) for q in entries]
        for node, entries in _reply(inspect, "active_queues").items()
    }
    return WorkersSnapshot(
        nodes=nodes,
        active=_reply(inspect, "active"),
        reserved=_reply(inspect, "reserved"),
        scheduled=_reply(inspect, "scheduled"),
        registered=registered,
        queues=queues,
    )
