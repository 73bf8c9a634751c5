"""The "before": an in-memory task queue drained by worker threads, and ``adopt`` for the
app's own queue object (stdlib only)."""

from __future__ import annotations

from ._handlers import Handler
from ._status import STATUSES, TaskHandle
from .adopt import AdoptedQueue, adopt
from .task_queue import TaskQueue

__all__ = ["STATUSES", "AdoptedQueue", "Handler", "TaskHandle", "TaskQueue", "adopt"]
