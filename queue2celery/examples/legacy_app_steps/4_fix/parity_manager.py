"""Parity workload for the task manager: (priority, Task) entries, async bound methods.

    queue2celery parity parity_manager.py

It needs step 2 of the guide (the manager's queue adopted in fastapi_app/tasks/manager.py).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fastapi_app.tasks import status_store
from fastapi_app.tasks.manager import ReportRequest, Task, task_manager

__all__ = ["observe", "task_queue", "workload"]

task_queue = task_manager.queue


def workload(q: Any) -> None:
    status_store.clear()
    # 和 add_task 放进去的一样：(priority, Task)
    request = ReportRequest(7, "2024-05", ["date", "amount"])
    at = datetime(2024, 5, 1, 9, 0)
    q.put((1, Task("export_report", {"request": request}, 1, task_id="t1", created_at=at)))
    q.put((5, Task("send_digest", {"user_ids": [1, 2, 3]}, 5, task_id="t2", created_at=at)))


def observe() -> dict[str, Any]:
    """What GET /reports/{task_id} would answer in the API process."""
    return {"task_status": status_store.all_statuses()}
