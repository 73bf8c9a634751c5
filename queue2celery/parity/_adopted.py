"""Parity's legacy side for an adopted queue: the app's ``run`` or handlers, in process.

The app's own consumer threads are not part of a parity run (they would block on ``get``
forever); what they do with an item is exactly what ``adopt`` was told, so each item is run
through that on an in-memory TaskQueue, which gives every put a handle, a status and the
recorders' hooks. The entry is split and the sentinel kept back, as CompatQueue does.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..legacy_queue import AdoptedQueue, Handler, TaskHandle, TaskQueue

__all__ = ["AdoptedRun", "item_of"]


def item_of(task_queue: Any, entry: Any) -> Any:
    """What the handler will receive for ``entry`` (the item without its priority)."""
    if isinstance(task_queue, AdoptedRun):
        task_queue = task_queue.adopted
    if isinstance(task_queue, AdoptedQueue):
        return task_queue.split(entry)[1]
    return entry


class AdoptedRun:
    """TaskQueue's protocol over entries of an adopted queue, run by one in-process worker."""

    def __init__(self, adopted: AdoptedQueue) -> None:
        self.adopted = adopted
        self.runner = TaskQueue(workers=1, route=self._route, name="q2c-parity-legacy")
        for name, handler in adopted.handlers.items():
            self.runner.add_handler(name, handler.func)

    def _route(self, item: Any) -> str:
        return self.adopted.handler_for(item).name

    @property
    def handlers(self) -> Mapping[str, Handler]:
        return self.runner.handlers

    def add_handler(self, name: str, func: Any, **policy: Any) -> Handler:
        return self.runner.add_handler(name, func, **policy)

    def handler_for(self, entry: Any) -> Handler:
        item = self.adopted.split(entry)[1]
        name = self.adopted.handler_for(item).name
        if name not in self.runner.handlers:
            # Registered after the workload was loaded: run what the adopted queue runs.
            self.runner.add_handler(name, self.adopted.handler_for(item).func)
        return self.runner.handlers[name]

    def put(
        self,
        entry: Any,
        block: bool = True,
        timeout: float | None = None,
        *,
        priority: int = 0,
        task_id: str | None = None,
    ) -> Any:
        handle = self._put(entry, task_id)
        if self.adopted.is_async and block:
            return _ready(handle)
        return handle

    def put_nowait(self, entry: Any, *, task_id: str | None = None, **_: Any) -> Any:
        return self._put(entry, task_id)

    def _put(self, entry: Any, task_id: str | None) -> TaskHandle | None:
        priority, item = self.adopted.split(entry)
        if self.adopted.is_sentinel(item) or self.adopted.is_sentinel(entry):
            return None  # the stop signal: nothing runs, as with CompatQueue
        self.handler_for(entry)
        return self.runner.put(item, priority=priority or 0, task_id=task_id)

    def status(self, task_id: str) -> dict[str, Any]:
        return self.runner.status(task_id)

    def wait(self, task_id: str, timeout: float | None = None) -> dict[str, Any]:
        return self.runner.wait(task_id, timeout)

    def join(self) -> None:
        self.runner.join()

    def qsize(self) -> int:
        return self.runner.qsize()

    def start(self) -> None:
        self.runner.start()

    def stop(self, timeout: float | None = 10.0) -> None:
        self.runner.stop(timeout)


async def _ready(handle: Any) -> Any:
    return handle
