"""作业管理器：asyncio.Queue + 多个协程 worker（在 lifespan 里启动）。"""
from __future__ import annotations

import asyncio
import logging
import uuid
from dataclasses import dataclass, field
from typing import Any, Awaitable, Callable

log = logging.getLogger(__name__)

Handler = Callable[["Job"], Awaitable[Any]]


@dataclass
class Job:
    kind: str
    payload: dict[str, Any]
    id: str = field(default_factory=lambda: uuid.uuid4().hex)
    retries: int = 0


class JobManager:
    """简单的进程内作业队列。"""

    def __init__(self, concurrency: int = 2) -> None:
        self._queue: asyncio.Queue[Job | None] = asyncio.Queue()
        self._handlers: dict[str, Handler] = {}
        self._workers: list[asyncio.Task] = []
        self.concurrency = concurrency
        self.results: dict[str, Any] = {}

    def register(self, kind: str, handler: Handler) -> None:
        self._handlers[kind] = handler

    async def submit(self, kind: str, payload: dict[str, Any]) -> str:
        job = Job(kind, payload)
        await self._queue.put(job)  # SITE: queue_put object-payload
        return job.id

    async def _worker(self, n: int) -> None:
        while True:
            job = await self._queue.get()
            if job is None:
                break
            try:
                self.results[job.id] = await self._handlers[job.kind](job)
            except Exception:  # 失败重试三次
                log.exception("job %s failed", job.id)
                if job.retries < 3:
                    job.retries += 1
                    await self._queue.put(job)  # SITE: queue_put requeue-in-consumer
            finally:
                self._queue.task_done()

    async def start(self) -> None:
        for n in range(self.concurrency):
            self._workers.append(asyncio.create_task(self._worker(n)))

    async def stop(self) -> None:
        for _ in self._workers:
            await self._queue.put(None)  # SITE: queue_put sentinel
        await asyncio.gather(*self._workers)
