"""报表导出：交给任务管理器，按 task_id 查状态。"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, HTTPException
from pydantic import BaseModel

from fastapi_app.tasks.manager import ReportRequest, task_manager
from fastapi_app.tasks.status_store import get_status

router = APIRouter(prefix="/reports", tags=["reports"])


class ExportBody(BaseModel):
    user_id: int
    month: str
    columns: list[str] = ["date", "amount"]


@router.post("/export", status_code=202)
def export_report(body: ExportBody) -> dict[str, Any]:
    request = ReportRequest(body.user_id, body.month, body.columns)
    # 付费用户的导出优先
    task_id = task_manager.add_task("export_report", {"request": request}, priority=1)
    return {"task_id": task_id}


@router.get("/{task_id}")
def report_status(task_id: str) -> dict[str, Any]:
    status = get_status(f"task:{task_id}")
    if status is None:
        raise HTTPException(status_code=404, detail=f"no task {task_id!r}")
    return {"task_id": task_id, "result": None, **status}
