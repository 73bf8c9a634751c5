"""The in-memory task queue as people write it: worker threads, handlers, retries, priority."""

from __future__ import annotations

import heapq
import itertools
import logging
import queue
import threading
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any, overload

from ._handlers import Handler, HandlerRegistry
from ._status import StatusStore, TaskHandle, error_info

__all__ = ["TaskQueue"]

log = logging.getLogger("queue2celery.legacy_queue")

F = Callable[[Any], Any]


@dataclass(order=True)
class _Entry:
    priority: int
    seq: int
    task_id: str = field(compare=False)
    handler: Handler = field(compare=False)
    item: Any = field(compare=False)
    attempts: int = field(default=0, compare=False)


class TaskQueue:
    """A ``queue.Queue``-style producer API drained by ``workers`` threads.

    Lower ``priority`` runs first, FIFO within a priority. A retried item waits
    ``retry_delay`` in the queue, not in a worker thread.
    """

    def __init__(
        self,
        workers: int = 1,
        *,
        maxsize: int = 0,
        route: Callable[[Any], str] | None = None,
        name: str = "task_queue",
        status_limit: int = 100_000,
    ) -> None:
        if workers < 1:
            raise ValueError(f"workers={workers!r}: a TaskQueue needs at least one worker thread")
        self.name = name
        self.workers = workers
        self.maxsize = maxsize
        self._registry = HandlerRegistry(route)
        self._store = StatusStore(status_limit)
        self._ready: list[_Entry] = []
        self._delayed: list[tuple[float, int, _Entry]] = []
        self._seq = itertools.count()
        self._lock = threading.Lock()
        self._not_empty = threading.Condition(self._lock)
        self._not_full = threading.Condition(self._lock)
        self._all_done = threading.Condition(self._lock)
        self._unfinished = 0
        self._threads: list[threading.Thread] = []
        self._stopping = False

    # -- handlers ----------------------------------------------------------------

    @overload
    def handler(self, name_or_func: F) -> F: ...
    @overload
    def handler(
        self, name_or_func: str | None = None, *, max_retries: int = 0, retry_delay: float = 0.0
    ) -> Callable[[F], F]: ...
    def handler(
        self,
        name_or_func: str | F | None = None,
        *,
        max_retries: int = 0,
        retry_delay: float = 0.0,
    ) -> F | Callable[[F], F]:
        """Register a handler: ``@q.handler`` or ``@q.handler("name", max_retries=3, ...)``."""
        if callable(name_or_func):
            self.add_handler(name_or_func.__name__, name_or_func)
            return name_or_func

        def decorate(func: F) -> F:
            name = name_or_func or func.__name__
            self.add_handler(name, func, max_retries=max_retries, retry_delay=retry_delay)
            return func

        return decorate

    def add_handler(
        self, name: str, func: F, *, max_retries: int = 0, retry_delay: float = 0.0
    ) -> Handler:
        """Register (or replace) the handler called ``name``."""
        return self._registry.add(Handler(name, func, max_retries, retry_delay))

    @property
    def handlers(self) -> Mapping[str, Handler]:
        return self._registry.handlers

    def handler_for(self, item: Any) -> Handler:
        return self._registry.handler_for(item)

    # -- producer API ------------------------------------------------------------

    def put(
        self,
        item: Any,
        block: bool = True,
        timeout: float | None = None,
        *,
        priority: int = 0,
        task_id: str | None = None,
    ) -> TaskHandle:
        """Enqueue ``item``; raises ``queue.Full`` like ``queue.Queue.put`` when it is full."""
        handler = self.handler_for(item)
        task_id = task_id or str(uuid.uuid4())
        entry = _Entry(priority, next(self._seq), task_id, handler, item)
        with self._not_full:
            if self.maxsize > 0:
                self._wait_not_full(block, timeout)
            self._store.update(task_id, status="PENDING")
            heapq.heappush(self._ready, entry)
            self._unfinished += 1
            self._not_empty.notify()
        self._ensure_started()
        return TaskHandle(task_id, self._store)

    def put_nowait(self, item: Any, *, priority: int = 0, task_id: str | None = None) -> TaskHandle:
        return self.put(item, block=False, priority=priority, task_id=task_id)

    def run_inline(self, item: Any, *, task_id: str | None = None) -> TaskHandle:
        """Run ``item`` now in the caller's thread, with the handler's retry policy."""
        handler = self.handler_for(item)
        entry = _Entry(0, next(self._seq), task_id or str(uuid.uuid4()), handler, item)
        while self._attempt(entry):
            time.sleep(handler.retry_delay)
        return TaskHandle(entry.task_id, self._store)

    def qsize(self) -> int:
        with self._lock:
            return len(self._ready) + len(self._delayed)

    def empty(self) -> bool:
        return self.qsize() == 0

    def full(self) -> bool:
        return self.maxsize > 0 and self.qsize() >= self.maxsize

    def join(self) -> None:
        """Block until every item put so far has finished (retries included)."""
        with self._all_done:
            while self._unfinished:
                self._all_done.wait()

    def status(self, task_id: str) -> dict[str, Any]:
        return self._store.get(task_id)

    def wait(self, task_id: str, timeout: float | None = None) -> dict[str, Any]:
        return self._store.wait(task_id, timeout)

    # -- lifecycle ---------------------------------------------------------------

    def start(self) -> None:
        with self._lock:
            self._stopping = False
            self._threads = [t for t in self._threads if t.is_alive()]
            for index in range(len(self._threads), self.workers):
                thread = threading.Thread(
                    target=self._work, name=f"{self.name}-worker-{index}", daemon=True
                )
                self._threads.append(thread)
                thread.start()

    def stop(self, timeout: float | None = 10.0) -> None:
        """Let each worker finish its current item, then end the threads (items stay queued)."""
        with self._lock:
            self._stopping = True
            self._not_empty.notify_all()
            threads, self._threads = self._threads, []
        for thread in threads:
            thread.join(timeout)

    def __enter__(self) -> TaskQueue:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    # -- internals ---------------------------------------------------------------

    def _ensure_started(self) -> None:
        if not self._threads:
            self.start()

    def _wait_not_full(self, block: bool, timeout: float | None) -> None:
        # Called with the lock held.
        if not block:
            if self._pending() >= self.maxsize:
                raise queue.Full
            return
        deadline = None if timeout is None else time.monotonic() + timeout
        while self._pending() >= self.maxsize:
            remaining = None if deadline is None else deadline - time.monotonic()
            if remaining is not None and remaining <= 0:
                raise queue.Full
            self._not_full.wait(remaining)

    def _pending(self) -> int:
        return len(self._ready) + len(self._delayed)

    def _next_entry(self) -> _Entry | None:
        """The next runnable entry, or None when the queue is stopping."""
        with self._not_empty:
            while not self._stopping:
                now = time.monotonic()
                while self._delayed and self._delayed[0][0] <= now:
                    heapq.heappush(self._ready, heapq.heappop(self._delayed)[2])
                if self._ready:
                    entry = heapq.heappop(self._ready)
                    self._not_full.notify()
                    return entry
                wait = self._delayed[0][0] - now if self._delayed else None
                self._not_empty.wait(wait)
            return None

    def _work(self) -> None:
        while (entry := self._next_entry()) is not None:
            if self._attempt(entry):
                due = time.monotonic() + entry.handler.retry_delay
                with self._not_empty:
                    heapq.heappush(self._delayed, (due, next(self._seq), entry))
                    self._not_empty.notify()
            else:
                with self._all_done:
                    self._unfinished -= 1
                    if not self._unfinished:
                        self._all_done.notify_all()

    def _attempt(self, entry: _Entry) -> bool:
        """Run one attempt; True when the entry must be retried."""
        entry.attempts += 1
        self._store.update(entry.task_id, status="STARTED", attempts=entry.attempts)
        try:
            result = entry.handler.func(entry.item)
        except Exception as exc:  # a handler's failure must never kill the worker thread
            retry = entry.attempts <= entry.handler.max_retries
            status = "RETRY" if retry else "FAILURE"
            log.log(
                logging.WARNING if retry else logging.ERROR,
                "task %s (%s) attempt %d failed: %r",
                entry.task_id,
                entry.handler.name,
                entry.attempts,
                exc,
                exc_info=not retry,
            )
            self._store.update(entry.task_id, status=status, error=error_info(exc))
            return retry
        self._store.update(entry.task_id, status="SUCCESS", result=result, error=None)
        return False
