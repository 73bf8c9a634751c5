# ruff: noqa: E501, B008 - written as the app's team wrote it; the markers need one line
"""视频相关接口。"""

from __future__ import annotations

import asyncio
import os
from concurrent.futures import ThreadPoolExecutor

import httpx
from fastapi import APIRouter, BackgroundTasks, Depends, Request
from starlette.background import BackgroundTask
from starlette.responses import JSONResponse

from ..core.deps import get_task_manager
from ..core.task_manager import TaskManager

router = APIRouter()


async def send_webhook(url: str, payload: dict) -> None:
    async with httpx.AsyncClient() as client:
        await client.post(url, json=payload)


def cleanup_temp(path: str) -> None:
    # 删除本机上的临时文件
    os.remove(path)


def probe(path: str) -> int:
    return len(path)


@router.post("/videos/{video_id}/transcode")
async def transcode(video_id: int, tm: TaskManager = Depends(get_task_manager)):
    tm.add_task("transcode", {"video_id": video_id}, priority=2)  # SITE: manager_enqueue
    return {"ok": True}


@router.post("/videos/{video_id}/thumbnail")
async def thumbnail(video_id: int, request: Request, background_tasks: BackgroundTasks):
    request.app.state.task_manager.add_task("thumbnail", {"video_id": video_id})  # SITE: manager_enqueue
    asyncio.create_task(send_webhook("http://hooks.local/x", {"id": video_id}))  # SITE: create_task
    background_tasks.add_task(cleanup_temp, f"/tmp/{video_id}.part")  # SITE: background_task host-bound
    return {"ok": True}


@router.put("/videos/{video_id}")
async def update(video_id: int):
    httpx.put(f"http://cdn.local/{video_id}", content=b"")  # 看起来像 put，但不是
    # 等待结果的任务：不是 fire-and-forget
    task = asyncio.create_task(send_webhook("http://hooks.local/u", {"id": video_id}))
    await task
    checks = [asyncio.create_task(send_webhook("http://a.local", {})) for _ in range(2)]
    await asyncio.gather(*checks)
    with ThreadPoolExecutor() as ex:
        sizes = list(ex.map(probe, ["a", "b"]))
        ex.submit(probe, "c")
    return JSONResponse({"sizes": sizes}, background=BackgroundTask(cleanup_temp, "/tmp/x"))


@router.get("/videos/events")
async def events(request: Request):
    # SSE：每个订阅者一个 asyncio.Queue，发布/订阅，不是任务队列
    inbox: asyncio.Queue = asyncio.Queue()
    request.app.state.subscribers.add(inbox)

    async def stream():
        while True:
            item = await inbox.get()
            yield f"data: {item}\n\n"

    return stream()


async def publish(request: Request, item: str) -> None:
    for inbox in request.app.state.subscribers:
        inbox.put_nowait(item)


async def enqueue_with_arq(request: Request, video_id: int) -> None:
    await request.app.state.arq.enqueue_job("transcode", video_id)  # ARQ 已经在 broker 上


def already_celery(video_id: int) -> None:
    from ..tasks import transcode_task

    transcode_task.delay(video_id)  # 已经是 Celery
