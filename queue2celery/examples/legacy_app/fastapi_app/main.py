"""The API. Electron starts Redis, the Celery worker, then this (uvicorn fastapi_app.main:app)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from fastapi_app.routes import locations, reports, users, videos
from fastapi_app.tasks.manager import task_manager
from fastapi_app.tasks.worker import start_workers, stop_workers


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    # 启动时拉起工作线程和任务管理器，退出时发关闭信号，等它们处理完手上的任务
    start_workers()
    task_manager.start()
    yield
    task_manager.stop()
    stop_workers()


app = FastAPI(title="legacy_app", lifespan=lifespan)
app.include_router(videos.router)
app.include_router(locations.router)
app.include_router(reports.router)
app.include_router(users.router)


@app.get("/health")
def health() -> dict[str, str]:
    return {"status": "ok"}
