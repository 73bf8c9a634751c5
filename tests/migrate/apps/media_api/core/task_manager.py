# ruff: noqa: E501 - written as the app's team wrote it; the markers need one line
"""任务管理器：优先级队列 + 后台线程，处理函数是异步的绑定方法。"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from dataclasses import dataclass, field
from queue import PriorityQueue
from typing import Any

logger = logging.getLogger(__name__)


@dataclass(order=True)
class Task:
    kind: str = field(compare=False)
    data: dict[str, Any] = field(compare=False)
    not_before: float = field(default=0.0, compare=False)


class TaskManager:
    def __init__(self) -> None:
        self._queue: PriorityQueue = PriorityQueue()
        self._handlers: dict[str, Any] = {}
        self.__event_queue: PriorityQueue = PriorityQueue()  # 内部事件（名字改编）
        self._thread: threading.Thread | None = None
        self.register_handler("transcode", self.handle_transcode)
        self.register_handler("thumbnail", self.handle_thumbnail)

    def register_handler(self, kind: str, handler: Any) -> None:
        self._handlers[kind] = handler

    def start(self) -> None:
        # 后台线程里跑自己的事件循环
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._queue.put((0, None))  # SITE: queue_put sentinel
        self._queue.put(None)  # SITE: queue_put sentinel

    def add_task(self, kind: str, data: dict[str, Any], priority: int = 5) -> None:
        """加一个任务，priority 越小越先执行。"""
        self._queue.put((priority, Task(kind, data)))  # SITE: queue_put priority-tuple object-payload

    def push_event(self, name: str) -> None:
        self.__event_queue.put((1, name))  # SITE: queue_put

    def restore_pending(self, rows: list[dict[str, Any]]) -> None:
        # 启动时把数据库里没跑完的任务重新放回队列
        for row in rows:
            self._queue.put((row["priority"], Task(row["kind"], row["data"])))  # SITE: queue_put startup-reload

    def _run(self) -> None:
        asyncio.run(self._consume())

    async def _consume(self) -> None:
        while True:
            entry = self._queue.get()
            if entry is None or entry[1] is None:
                break
            priority, task = entry
            if task.not_before > time.time():
                # 还没到时间：放回去（验证码重试也走这里）
                self._queue.put((priority, task))  # SITE: queue_put requeue-in-consumer
                await asyncio.sleep(0.5)
                continue
            await self._handlers[task.kind](task.data)
            event = self.__event_queue.get()
            logger.info("event %s", event)

    async def handle_transcode(self, data: dict[str, Any]) -> None:
        logger.info("transcode %s", data)

    async def handle_thumbnail(self, data: dict[str, Any]) -> None:
        logger.info("thumbnail %s", data)
