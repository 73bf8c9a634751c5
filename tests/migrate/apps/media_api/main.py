"""API 入口。lifespan 里创建任务管理器并启动后台线程。"""

from __future__ import annotations

import asyncio
import logging
import logging.handlers
import queue
import threading
from contextlib import asynccontextmanager

from fastapi import FastAPI

from .core.events import run_event_loop_worker
from .core.task_manager import TaskManager
from .routes import users, videos

log_queue: queue.Queue = queue.Queue(-1)
logging.getLogger().addHandler(logging.handlers.QueueHandler(log_queue))  # 日志队列，不是任务


async def heartbeat() -> None:
    while True:
        await asyncio.sleep(30)


@asynccontextmanager
async def lifespan(app: FastAPI):
    manager = TaskManager()
    app.state.task_manager = manager
    manager.start()
    manager.restore_pending([])
    threading.Thread(target=run_event_loop_worker, daemon=True).start()
    beat = asyncio.create_task(heartbeat())  # 启动时的后台任务，不是请求里的
    yield
    beat.cancel()
    manager.stop()


app = FastAPI(lifespan=lifespan)
app.include_router(videos.router)
app.include_router(users.router)
