"""What CompatQueue does for an adopted queue: split the entry, keep the sentinel, map priorities.

Priority mapping (documented in MIGRATION.md): a legacy priority is "lower runs first", as in
Celery's Redis transport, where 0 is the highest. Integer priorities 0-9 are sent as they
are; anything else is clamped into 0-9 with one warning naming the values. Redis then files
each message under a priority step (default steps 0, 3, 6, 9: 0-2 -> 0, 3-5 -> 3, 6-8 -> 6,
9 -> 9); two legacy values that share a step run in arrival order among themselves, so that
is warned about once too, naming them and the setting that keeps them apart.
"""

from __future__ import annotations

import asyncio
import bisect
import functools
import logging
import threading
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from celery import Celery

from ..celery_tasks import register_handler
from ..errors import ConfigError
from ..legacy_queue.adopt import AdoptedQueue
from ._sender import Item
from ._types import TypeEncoder

if TYPE_CHECKING:
    from celery import Task

    from ._ledger import Ledger
    from ._sender import Sender
    from .rollout import Rollout

__all__ = ["AdoptedMethods", "AdoptedSend", "PriorityMap"]

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


class AdoptedMethods:
    """CompatQueue's part for an adopted queue: the put path and the app's consumer side.

    Mixed into CompatQueue, whose constructor sets the attributes declared here.
    """

    if TYPE_CHECKING:
        _adopted: AdoptedSend | None
        task_queue: Any
        tasks: dict[str, Task]
        app: Celery
        key: Callable[[Any], object] | None
        rollout: Rollout
        _overrides: Mapping[str, float]
        sender: Sender
        ledger: Ledger

        def _join_celery(self, timeout: float | None) -> None: ...

    def _route_adopted(self, entry: Any, task_id: str) -> tuple[str, Any, Any] | None:
        """``(task name, item, priority)`` to send, or None when the entry stays in process."""
        assert self._adopted is not None
        priority, item, sentinel = self._adopted.split(entry)
        if sentinel:
            return None  # the stop signal is for the app's own consumers only
        handler = self.task_queue.handler_for(item)
        name = handler.name
        if name not in self.tasks:
            # A handler the app registered after the queue was built.
            self.tasks[name] = register_handler(
                self.app, handler, decode=self._adopted.adopted.decode
            )
        key = self.key(item) if self.key is not None else task_id
        if self.rollout.backend_for(name, key, self._overrides) == "legacy":
            self.ledger.count(name, "legacy")
            return None
        return name, item, priority

    def _send_adopted(self, entry: Any, task_id: str, name: str, item: Any, priority: Any) -> Any:
        assert self._adopted is not None
        adopted = self._adopted.adopted
        wire = self._adopted.encoder.encode(item)
        # on_broker_error='legacy' puts the entry the app put, not its encoded item.
        adopted.hold(task_id, entry)
        try:
            celery_priority = self._adopted.celery_priority(priority)
            return self.sender.send([Item(name, wire, task_id, celery_priority)])[0]
        finally:
            adopted.release(task_id)

    def _put_adopted(self, entry: Any, block: bool, timeout: float | None, task_id: str) -> Any:
        routed = self._route_adopted(entry, task_id)
        if routed is None:
            adopted = self._adopted.adopted if self._adopted is not None else None
            assert adopted is not None
            if adopted.is_async:
                return adopted.queue.put_nowait(entry)
            return adopted.queue.put(entry, block, timeout)
        return self._send_adopted(entry, task_id, *routed)

    async def _aput_adopted(self, entry: Any, task_id: str) -> Any:
        routed = self._route_adopted(entry, task_id)
        if routed is None:
            assert self._adopted is not None
            return await self._adopted.adopted.queue.put(entry)
        # Sent on the loop: the fast path takes tens of microseconds, and a broker that does
        # not answer costs at most broker_timeout once before the breaker opens.
        return self._send_adopted(entry, task_id, *routed)

    # -- the adopted queue's consumer side (the app's own threads or tasks) -----------
    def get(self, *args: Any, **kwargs: Any) -> Any:
        """The adopted queue's own ``get`` (its consumers drain the legacy share)."""
        return self._adopted_queue("get").get(*args, **kwargs)

    def get_nowait(self) -> Any:
        return self._adopted_queue("get_nowait").get_nowait()

    def task_done(self) -> None:
        self._adopted_queue("task_done").task_done()

    def _adopted_queue(self, method: str) -> AdoptedQueue:
        if self._adopted is None:
            raise ConfigError(
                f"CompatQueue.{method}() is for adopted queues (adopt(queue.Queue(), ...)); a "
                "TaskQueue runs its items in its own worker threads"
            )
        return self._adopted.adopted

    async def _ajoin(self, timeout: float | None) -> None:
        waiting = self.task_queue.join()
        if waiting is not None:
            await waiting
        call = functools.partial(self._join_celery, timeout)
        await asyncio.get_running_loop().run_in_executor(None, call)
