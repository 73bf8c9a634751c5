"""The "before": an in-memory task queue drained by worker threads (stdlib only)."""

from __future__ import annotations

from ._handlers import Handler
from ._status import STATUSES, TaskHandle
from .task_queue import TaskQueue

__all__ = ["STATUSES", "Handler", "TaskHandle", "TaskQueue"]
