"""用户注册后发欢迎邮件（FastAPI BackgroundTasks，响应之后在同一进程里跑）。"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, BackgroundTasks

from fastapi_app.services.email import send_email

router = APIRouter(prefix="/users", tags=["users"])


@router.post("/{user_id}/welcome", status_code=202)
def welcome(user_id: str, background_tasks: BackgroundTasks) -> dict[str, Any]:
    background_tasks.add_task(send_email, f"{user_id}@example.com", "欢迎使用", body="注册成功")
    return {"queued": True}
