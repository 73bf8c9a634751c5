"""任务状态查询。"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from fastapi_app.tasks.queue import task_queue

router = APIRouter(prefix="/tasks", tags=["tasks"])


@router.get("/{task_id}")
def task_state(task_id: str) -> dict[str, Any]:
    return task_queue.status(task_id)
