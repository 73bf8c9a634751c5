"""What one backend's run produced: every ``put`` call, in call order, and what became of it."""

from __future__ import annotations

import inspect
import time
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from ..legacy_queue import AdoptedQueue, TaskQueue
from ._adopted import AdoptedRun, item_of
from ._fingerprint import fingerprint
from ._recorder import LegacyTaskIds, error_of

__all__ = [
    "BackendRun",
    "BoundedHandle",
    "CallRecord",
    "RecordingQueue",
    "attach_attempts",
    "wait_for_calls",
]

FINAL = frozenset({"SUCCESS", "FAILURE"})


@dataclass
class CallRecord:
    """One ``put`` and its outcome on one backend (fingerprints, not live values)."""

    index: int
    task: str | None
    put_arg: dict[str, Any]
    task_id: str | None = None
    enqueue_error: dict[str, str] | None = None
    finished: bool = False
    status: str | None = None
    result: dict[str, Any] | None = None  # as the caller sees it (status()["result"])
    error: dict[str, str] | None = None  # as the caller sees it (status()["error"])
    attempts: list[dict[str, Any]] = field(default_factory=list)  # as the handler saw them
    handle: Any = field(default=None, repr=False)

    def to_dict(self) -> dict[str, Any]:
        return {
            "call": self.index,
            "task": self.task,
            "task_id": self.task_id,
            "enqueue_error": self.enqueue_error,
            "finished": self.finished,
            "status": self.status,
            "result": self.result,
            "error": self.error,
            "attempts": len(self.attempts),
        }


@dataclass
class BackendRun:
    """Everything one backend's run recorded, then ``observe()`` taken after it."""

    name: str
    calls: list[CallRecord] = field(default_factory=list)
    observed: dict[str, Any] | None = None
    observe_error: dict[str, str] | None = None
    workload_error: dict[str, str] | None = None
    seconds: float = 0.0
    info: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "calls": len(self.calls),
            "seconds": round(self.seconds, 3),
            "enqueue_errors": sum(1 for c in self.calls if c.enqueue_error),
            "unfinished": sum(1 for c in self.calls if c.handle is not None and not c.finished),
            "workload_error": self.workload_error,
            "observe_error": self.observe_error,
            **self.info,
        }


def _task_name(task_queue: Any, item: Any) -> str | None:
    if isinstance(task_queue, AdoptedRun):
        task_queue = task_queue.adopted
    try:
        if isinstance(task_queue, AdoptedQueue):
            priority, item = task_queue.split(item)
            if task_queue.is_sentinel(item):
                return None
        return task_queue.handler_for(item).name
    except Exception:  # put itself reports the routing error as an enqueue error
        return None


class RecordingQueue:
    """Stands in for the queue the workload drives; notes every put, delegates the rest."""

    def __init__(
        self,
        inner: Any,
        task_queue: TaskQueue | Any,
        legacy_ids: LegacyTaskIds | None = None,
        *,
        max_wait: float,
    ) -> None:
        self._inner = inner
        self._task_queue = task_queue
        self._legacy_ids = legacy_ids
        self._max_wait = max_wait
        self._closed = False
        self.calls: list[CallRecord] = []

    def close(self) -> None:
        """Stop recording: puts still go through, but are no longer compared."""
        self._closed = True

    def put(self, item: Any, *args: Any, **kwargs: Any) -> Any:
        return self._put("put", item, args, kwargs)

    def put_nowait(self, item: Any, *args: Any, **kwargs: Any) -> Any:
        return self._put("put_nowait", item, args, kwargs)

    def _put(self, method: str, item: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        if self._closed:
            return getattr(self._inner, method)(item, *args, **kwargs)
        call = CallRecord(len(self.calls), _task_name(self._task_queue, item), fingerprint(item))
        self.calls.append(call)
        if self._legacy_ids is not None:
            # A known id lets the handler wrapper tell which task it is running.
            kwargs.setdefault("task_id", str(uuid.uuid4()))
            self._legacy_ids.expect(item_of(self._task_queue, item), kwargs["task_id"])
        try:
            handle = getattr(self._inner, method)(item, *args, **kwargs)
        except Exception as exc:
            call.enqueue_error = error_of(exc)
            raise
        if inspect.isawaitable(handle):
            # An adopted asyncio.Queue: ``await q.put(...)``, recorded once awaited.
            return self._awaited(call, handle)
        return self._record(call, handle)

    async def _awaited(self, call: CallRecord, pending: Any) -> Any:
        try:
            handle = await pending
        except Exception as exc:
            call.enqueue_error = error_of(exc)
            raise
        return self._record(call, handle)

    def _record(self, call: CallRecord, handle: Any) -> Any:
        if handle is None:
            return None  # the sentinel: put locally, nothing runs
        call.handle = handle
        call.task_id = getattr(handle, "id", None)
        return BoundedHandle(handle, self._max_wait)

    def join(self, timeout: float | None = None) -> None:
        """Like ``join()``, but bounded: a task that never finishes must not hang the harness."""
        limit = self._max_wait if timeout is None else min(timeout, self._max_wait)
        deadline = time.monotonic() + limit
        for call in list(self.calls):
            if call.handle is not None:
                call.handle.wait(timeout=max(0.0, deadline - time.monotonic()))

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)


class BoundedHandle:
    """The handle ``put`` returned, with ``wait()`` capped (``h.wait()`` in a workload is common,
    and on Celery a task may never finish)."""

    def __init__(self, handle: Any, max_wait: float) -> None:
        self._handle = handle
        self._max_wait = max_wait

    def wait(self, timeout: float | None = None) -> Any:
        limit = self._max_wait if timeout is None else min(timeout, self._max_wait)
        return self._handle.wait(timeout=limit)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._handle, name)

    def __repr__(self) -> str:
        return repr(self._handle)


def wait_for_calls(calls: Iterable[CallRecord], deadline: float, *, poll: bool) -> None:
    """Wait (until ``deadline``, a monotonic time) for each put task to finish; note its status.

    ``poll`` reads ``handle.status()`` in a loop (Celery); otherwise ``handle.wait`` blocks on
    the in-memory store.
    """
    for call in calls:
        if call.handle is None:
            continue
        status = _wait(call.handle, deadline, poll)
        call.status = status.get("status")
        call.finished = call.status in FINAL
        if call.finished:
            call.result = fingerprint(status.get("result")) if call.status == "SUCCESS" else None
            call.error = status.get("error")


def _wait(handle: Any, deadline: float, poll: bool) -> dict[str, Any]:
    if not poll:
        return dict(handle.wait(timeout=max(0.0, deadline - time.monotonic())))
    pause = 0.005
    while True:
        status = dict(handle.status())
        if status.get("status") in FINAL or time.monotonic() >= deadline:
            return status
        time.sleep(min(pause, max(0.0, deadline - time.monotonic())))
        pause = min(pause * 2, 0.1)


def attach_attempts(calls: Iterable[CallRecord], records: Iterable[dict[str, Any]]) -> None:
    """Give each call the attempt records of its task id, in the order they happened."""
    by_task: dict[str, list[dict[str, Any]]] = {}
    for record in records:
        if record.get("task_id"):
            by_task.setdefault(record["task_id"], []).append(record)
    for call in calls:
        if call.task_id is not None:
            call.attempts = by_task.get(call.task_id, [])
