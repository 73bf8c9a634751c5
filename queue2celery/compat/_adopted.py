"""What CompatQueue does for an adopted queue: split the entry, keep the sentinel, map priorities.

Priority mapping (documented in MIGRATION.md): a legacy priority is "lower runs first", as in
Celery's Redis transport, where 0 is the highest. Integer priorities 0-9 are sent as they
are; anything else is clamped into 0-9 with one warning naming the values. Redis then files
each message under a priority step (default steps 0, 3, 6, 9: 0-2 -> 0, 3-5 -> 3, 6-8 -> 6,
9 -> 9); two legacy values that share a step run in arrival order among themselves, so that
is warned about once too, naming them and the setting that keeps them apart.
"""

from __future__ import annotations

import bisect
import logging
import threading
from typing import Any

from celery import Celery

from ..legacy_queue.adopt import AdoptedQueue
from ._types import TypeEncoder

__all__ = ["AdoptedSend", "PriorityMap"]

log = logging.getLogger("queue2celery.compat")

_DEFAULT_STEPS = (0, 3, 6, 9)


class PriorityMap:
    """Legacy priority (lower first) -> Celery priority (0 first, 0-9), warning once per kind."""

    def __init__(self, steps: Any = None) -> None:
        self.steps = tuple(sorted(steps)) if steps else _DEFAULT_STEPS
        self._lock = threading.Lock()
        self._outside: set[Any] = set()
        self._by_step: dict[int, set[int]] = {}
        self._warned_steps: set[int] = set()

    def celery(self, priority: Any) -> int:
        if type(priority) is int and 0 <= priority <= 9:
            self._note_step(priority)
            return priority
        return self._outside_range(priority)

    def _note_step(self, priority: int) -> None:
        step = self.steps[max(bisect.bisect(self.steps, priority) - 1, 0)]
        seen = self._by_step.get(step)
        if seen is not None and priority in seen:
            return
        with self._lock:
            seen = self._by_step.setdefault(step, set())
            seen.add(priority)
            if len(seen) > 1 and step not in self._warned_steps:
                self._warned_steps.add(step)
                log.warning(
                    "legacy priorities %s all land in Celery's Redis priority step %d "
                    "(priority_steps %s): among themselves they run in arrival order. Set "
                    "broker_transport_options={'priority_steps': list(range(10))} on the app "
                    "(and on the workers) to keep them apart",
                    sorted(seen),
                    step,
                    list(self.steps),
                )

    def _outside_range(self, priority: Any) -> int:
        if isinstance(priority, (int, float)) and not isinstance(priority, bool):
            mapped = 0 if priority < 0 else 9 if priority > 9 else round(priority)
        else:
            mapped = 0
        with self._lock:
            if priority not in self._outside and len(self._outside) < 100:
                self._outside.add(priority)
                log.warning(
                    "legacy priority %r is outside Celery's 0-9 integers; sent as %d (values "
                    "seen outside so far: %s). Items clamped to the same value run in arrival "
                    "order among themselves; pass adopt(..., entry=) to map your priorities "
                    "into 0-9",
                    priority,
                    mapped,
                    sorted(map(repr, self._outside)),
                )
        return mapped


class AdoptedSend:
    """The parts of a put on an adopted queue that do not depend on the rollout."""

    def __init__(self, adopted: AdoptedQueue, app: Celery) -> None:
        self.adopted = adopted
        options = app.conf.broker_transport_options or {}
        self.priorities = PriorityMap(options.get("priority_steps"))
        self.encoder = TypeEncoder(adopted.types, str(app.conf.task_serializer or "json"))

    def split(self, entry: Any) -> tuple[Any, Any, bool]:
        """``(priority, item, is_sentinel)`` for what the app put."""
        priority, item = self.adopted.split(entry)
        sentinel = self.adopted.is_sentinel(item) or self.adopted.is_sentinel(entry)
        return priority, item, sentinel

    def celery_priority(self, priority: Any) -> int:
        if priority is None:
            return 0
        return self.priorities.celery(priority)
