"""asyncio 队列 + lifespan 里启动的 worker 任务。"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from contextlib import asynccontextmanager

from fastapi import FastAPI

Job = Callable[[], Awaitable[None]]

fifo_queue: asyncio.Queue = asyncio.Queue()
events: asyncio.Queue = asyncio.Queue()  # 发布/订阅：SSE 读，没有 worker 任务


async def worker() -> None:
    while True:
        job = await fifo_queue.get()
        await job()


class JobRunner:
    """一个后台任务消费自己的队列。"""

    def __init__(self) -> None:
        self._queue: asyncio.Queue = asyncio.Queue()
        self._task: asyncio.Task | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._worker())

    async def put(self, job: Job) -> None:
        await self._queue.put(job)  # SITE: queue_put

    async def _worker(self) -> None:
        while True:
            job = await self._queue.get()
            await job()


runner = JobRunner()


@asynccontextmanager
async def lifespan(app: FastAPI):
    asyncio.create_task(worker())  # 启动时的 worker，不是请求里的
    runner.start()
    yield


app = FastAPI(lifespan=lifespan)


async def long_running() -> None:
    await asyncio.sleep(1)


@app.post("/process")
async def process():
    await fifo_queue.put(long_running)  # SITE: queue_put
    await runner.put(long_running)  # SITE: manager_enqueue
    await events.put("processing")  # 发布给 SSE，不是任务
    return {"ok": True}


@app.get("/events")
async def stream():
    async def gen():
        while True:
            item = await events.get()
            yield f"data: {item}\n\n"

    return gen()
