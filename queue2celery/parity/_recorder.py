"""Recording what handlers receive and return, per attempt, on either backend.

Every handler of the workload's queue is replaced by a wrapper (same name, same
``max_retries``, ``retry_delay=0`` so retries are instant) that notes the fingerprint of the
item it got, of what it returned, or the exception it raised, keyed by task id. On the legacy
side records stay in memory; inside the Celery worker they go to a Redis list.
"""

from __future__ import annotations

import functools
import json
import threading
from collections.abc import Callable
from typing import Any, Protocol

from ..celery_tasks._loop import resolve
from ..legacy_queue import TaskQueue
from ._fingerprint import fingerprint

__all__ = [
    "CeleryTaskIds",
    "LegacyTaskIds",
    "MemorySink",
    "RedisSink",
    "error_of",
    "read_attempts",
    "wrap_handlers",
]

Record = dict[str, Any]


class Sink(Protocol):
    def __call__(self, record: Record) -> None: ...


class TaskIds(Protocol):
    """Tells the wrapper which task an attempt belongs to."""

    def begin(self, item: Any) -> str | None: ...
    def end(self, task_id: str | None) -> None: ...


def error_of(exc: BaseException) -> dict[str, str]:
    return {"type": type(exc).__name__, "message": str(exc)}


def _safe_fingerprint(value: Any) -> dict[str, Any]:
    try:
        return fingerprint(value)
    except Exception as exc:  # a broken __repr__ must not change what the handler does
        return {"t": type(value).__name__, "v": f"<unprintable: {type(exc).__name__}>"}


def wrap_handlers(task_queue: TaskQueue | Any, sink: Sink, task_ids: TaskIds) -> None:
    """Replace each handler by a recording wrapper with instant retries."""
    for name, handler in list(task_queue.handlers.items()):
        task_queue.add_handler(
            name,
            _recording(handler.func, sink, task_ids),
            max_retries=handler.max_retries,
            retry_delay=0,
        )


def _recording(func: Callable[[Any], Any], sink: Sink, task_ids: TaskIds) -> Callable[[Any], Any]:
    @functools.wraps(func)
    def recorded(item: Any) -> Any:
        task_id = task_ids.begin(item)
        # Taken before the call: a handler that mutates its argument must not hide drift.
        record: Record = {"task_id": task_id, "arg": _safe_fingerprint(item)}
        try:
            try:
                # Async handlers are awaited on one loop per process, on both sides.
                result = resolve(func(item))
            except Exception as exc:
                record["error"] = error_of(exc)
                sink(record)
                raise
            record["returned"] = _safe_fingerprint(result)
            sink(record)
            return result
        finally:
            task_ids.end(task_id)

    return recorded


class MemorySink:
    """Attempt records kept in this process (the legacy side)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.records: list[Record] = []

    def __call__(self, record: Record) -> None:
        with self._lock:
            self.records.append(record)


class RedisSink:
    """Attempt records pushed to a Redis list (inside the Celery worker)."""

    def __init__(self, client: Any, key: str) -> None:
        self._client = client
        self._key = key

    def __call__(self, record: Record) -> None:
        self._client.rpush(self._key, json.dumps(record, ensure_ascii=False))


def read_attempts(client: Any, key: str) -> list[Record]:
    return [json.loads(raw) for raw in client.lrange(key, 0, -1)]


class CeleryTaskIds:
    """Inside a worker the running task's id is Celery's ``current_task.request.id``."""

    def begin(self, item: Any) -> str | None:
        from celery import current_task

        request = getattr(current_task, "request", None)
        return getattr(request, "id", None)

    def end(self, task_id: str | None) -> None:
        return None


class LegacyTaskIds:
    """Matches a handler call to its task on the in-memory queue.

    The legacy queue hands the handler the very object that was put, and marks the task
    STARTED just before the call; the same object put twice is told apart by which of its
    tasks is STARTED and not already claimed by another running attempt.
    """

    def __init__(self, task_queue: TaskQueue) -> None:
        self._queue = task_queue
        self._lock = threading.Lock()
        self._expected: dict[int, list[tuple[Any, str]]] = {}
        self._running: set[str] = set()

    def expect(self, item: Any, task_id: str) -> None:
        with self._lock:
            # The item is kept referenced so its id() cannot be reused by another object.
            self._expected.setdefault(id(item), []).append((item, task_id))

    def begin(self, item: Any) -> str | None:
        with self._lock:
            candidates = [t for obj, t in self._expected.get(id(item), ()) if obj is item]
            free = [t for t in candidates if t not in self._running]
            started = [t for t in free if self._queue.status(t)["status"] == "STARTED"]
            chosen = started[0] if started else (free[0] if len(free) == 1 else None)
            if chosen is not None:
                self._running.add(chosen)
            return chosen

    def end(self, task_id: str | None) -> None:
        with self._lock:
            self._running.discard(task_id or "")
