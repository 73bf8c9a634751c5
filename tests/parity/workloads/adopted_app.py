"""任务管理器：PriorityQueue 里放 (priority, Task)，处理函数是 async 绑定方法。

An app module as such apps are written (imported by the adopted_* workloads).
"""

from __future__ import annotations

import asyncio
import queue
from dataclasses import dataclass, field
from typing import Any


@dataclass
class Task:
    kind: str
    data: dict[str, Any]
    tags: Any = field(default_factory=list)
    priority: int = 5


class TaskManager:
    def __init__(self) -> None:
        self.queue: queue.PriorityQueue[Any] = queue.PriorityQueue()
        self.handlers: dict[str, Any] = {}
        self.task_status: dict[str, str] = {}
        self.register_handler("resize", self.handle_resize)

    def register_handler(self, kind: str, func: Any) -> None:
        self.handlers[kind] = func

    def add_task(self, kind: str, data: dict[str, Any], priority: int = 5, tags: Any = ()) -> None:
        self.queue.put((priority, Task(kind, data, list(tags) if tags else [], priority)))

    async def execute(self, task: Task) -> Any:
        return await self.handlers[task.kind](task)

    async def handle_resize(self, task: Task) -> dict[str, Any]:
        await asyncio.sleep(0)
        # 记录收到的 tags 类型：元组和列表在这里不一样
        return {"w": task.data["w"] * 2, "tags": type(task.tags).__name__}


manager = TaskManager()
