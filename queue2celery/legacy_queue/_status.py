"""Task status records in Celery's vocabulary, and the handle ``put`` returns."""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from typing import Any

__all__ = ["STATUSES", "StatusStore", "TaskHandle", "error_info"]

STATUSES = ("PENDING", "STARTED", "RETRY", "SUCCESS", "FAILURE")
READY = frozenset({"SUCCESS", "FAILURE"})


def error_info(exc: BaseException) -> dict[str, str]:
    """The exception's type and message, never a traceback."""
    return {"type": type(exc).__name__, "message": str(exc)}


def _pending(task_id: str) -> dict[str, Any]:
    return {"task_id": task_id, "status": "PENDING", "result": None, "error": None, "attempts": 0}


class StatusStore:
    """Thread-safe status records; keeps at most ``limit`` finished ones (oldest dropped)."""

    def __init__(self, limit: int = 100_000) -> None:
        self._limit = limit
        self._records: OrderedDict[str, dict[str, Any]] = OrderedDict()
        self._finished = 0
        self._changed = threading.Condition()

    def get(self, task_id: str) -> dict[str, Any]:
        with self._changed:
            record = self._records.get(task_id)
            return dict(record) if record is not None else _pending(task_id)

    def update(self, task_id: str, **fields: Any) -> None:
        with self._changed:
            record = self._records.setdefault(task_id, _pending(task_id))
            record.update(fields)
            if fields.get("status") in READY:
                self._finished += 1
                self._records.move_to_end(task_id)
                self._trim()
            self._changed.notify_all()

    def wait(self, task_id: str, timeout: float | None = None) -> dict[str, Any]:
        """Block until the task is SUCCESS or FAILURE, or ``timeout`` seconds passed."""
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._changed:
            while True:
                record = self._records.get(task_id)
                if record is not None and record["status"] in READY:
                    return dict(record)
                remaining = None if deadline is None else deadline - time.monotonic()
                if remaining is not None and remaining <= 0:
                    return dict(record) if record is not None else _pending(task_id)
                self._changed.wait(remaining)

    def _trim(self) -> None:
        # Only finished records are dropped: a queued task always has its status.
        while self._finished > self._limit:
            for task_id, record in self._records.items():
                if record["status"] in READY:
                    del self._records[task_id]
                    self._finished -= 1
                    break
            else:
                return


class TaskHandle:
    """What ``put`` returns: the task id and a way to read its status."""

    backend = "legacy"

    def __init__(self, task_id: str, store: StatusStore) -> None:
        self.id = task_id
        self._store = store

    def status(self) -> dict[str, Any]:
        return self._store.get(self.id)

    def wait(self, timeout: float | None = None) -> dict[str, Any]:
        return self._store.wait(self.id, timeout)

    def __repr__(self) -> str:
        return f"<TaskHandle {self.id} backend={self.backend!r}>"
