"""FastAPI 依赖：从 app.state 取管理器。"""

from __future__ import annotations

from fastapi import Request

from .task_manager import TaskManager


def get_task_manager(request: Request) -> TaskManager:
    return request.app.state.task_manager
