"""任务管理器：报表导出这类慢任务，按优先级排队，处理函数是 async 方法。

add_task(kind, data, priority) 把 (priority, Task) 放进 PriorityQueue，数字小的先跑。
后台线程里跑一个事件循环，从队列取任务，交给 register_handler 登记的方法。
"""

from __future__ import annotations

import asyncio
import logging
import queue
import threading
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

logger = logging.getLogger(__name__)


@dataclass
class Task:
    kind: str
    data: dict[str, Any]
    priority: int = 5
    task_id: str = field(default_factory=lambda: uuid.uuid4().hex)
    created_at: datetime = field(default_factory=datetime.now)

    def __lt__(self, other: Task) -> bool:
        # 同优先级按创建时间先后
        return self.created_at < other.created_at


@dataclass
class ReportRequest:
    """导出报表的参数，路由里直接构造对象塞进 data。"""

    user_id: int
    month: str
    columns: list[str]


class TaskManager:
    def __init__(self) -> None:
        self.queue: queue.PriorityQueue[Any] = queue.PriorityQueue()
        self.handlers: dict[str, Callable[[Task], Awaitable[Any]]] = {}
        # 任务状态：/reports/{task_id} 直接读这个字典
        self.task_status: dict[str, str] = {}
        self.results: dict[str, Any] = {}
        self._thread: threading.Thread | None = None
        self.register_handler("export_report", self.handle_export_report)
        self.register_handler("send_digest", self.handle_send_digest)

    def register_handler(self, kind: str, handler: Callable[[Task], Awaitable[Any]]) -> None:
        self.handlers[kind] = handler

    def add_task(self, kind: str, data: dict[str, Any], priority: int = 5) -> str:
        task = Task(kind, data, priority)
        self.task_status[task.task_id] = "queued"
        self.queue.put((priority, task))
        return task.task_id

    async def execute(self, task: Task) -> Any:
        handler = self.handlers[task.kind]
        self.task_status[task.task_id] = "running"
        try:
            result = await handler(task)
        except Exception:
            self.task_status[task.task_id] = "failed"
            raise
        self.task_status[task.task_id] = "done"
        self.results[task.task_id] = result
        return result

    async def _worker(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            _priority, task = await loop.run_in_executor(None, self.queue.get)
            if task is None:  # 关闭信号
                break
            try:
                await self.execute(task)
            except Exception:
                logger.exception("task %s (%s) failed", task.task_id, task.kind)

    def start(self) -> None:
        self._thread = threading.Thread(
            target=lambda: asyncio.run(self._worker()), name="task-manager", daemon=True
        )
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        self.queue.put((99, None))
        if self._thread is not None:
            self._thread.join(timeout)

    # -- 处理函数 --------------------------------------------------------------------
    async def handle_export_report(self, task: Task) -> dict[str, Any]:
        request: ReportRequest = task.data["request"]
        await asyncio.sleep(0.01)  # 假装在查库
        rows = [{"month": request.month, "user_id": request.user_id}]
        return {"file": f"/exports/{request.user_id}-{request.month}.csv", "rows": len(rows),
                "columns": request.columns}

    async def handle_send_digest(self, task: Task) -> int:
        await asyncio.sleep(0)
        return len(task.data["user_ids"])


task_manager = TaskManager()
