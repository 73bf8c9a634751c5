"""The API. Electron starts Redis, the Celery worker, then this (uvicorn fastapi_app.main:app)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from fastapi_app.routes import locations, tasks, users, videos
from fastapi_app.tasks.queue import task_queue


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    # 启动时拉起队列的工作线程，退出时等它们处理完手上的任务
    task_queue.start()
    yield
    task_queue.stop()


app = FastAPI(title="legacy_app", lifespan=lifespan)
app.include_router(videos.router)
app.include_router(locations.router)
app.include_router(tasks.router)
app.include_router(users.router)


@app.get("/health")
def health() -> dict[str, str]:
    return {"status": "ok"}
