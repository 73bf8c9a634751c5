# ruff: noqa: B008 - written as the app's team wrote it; the markers need one line
"""用户接口：线程、线程池、run_in_executor、包装函数、单例。"""

from __future__ import annotations

import asyncio
import threading
from concurrent.futures import ThreadPoolExecutor

from fastapi import APIRouter, BackgroundTasks, Depends

from ..core.deps import get_task_manager
from ..core.events import send_event
from ..core.task_manager import TaskManager
from ..services.notifier import Notifier, get_notifier
from ..services.reports import ReportService

router = APIRouter()
executor = ThreadPoolExecutor(max_workers=4)
_running: set[asyncio.Task] = set()


def send_welcome_email(email: str) -> None:
    print("welcome", email)


def resize_avatar(path: str) -> None:
    print("resize", path)


def audit_log(user_id: int) -> None:
    print("audit", user_id)


async def sync_profile(user_id: int) -> None:
    await asyncio.sleep(0)


@router.post("/users")
async def create_user(email: str, background_tasks: BackgroundTasks):
    threading.Thread(target=send_welcome_email, args=(email,)).start()  # SITE: thread_start
    executor.submit(resize_avatar, f"/avatars/{email}.png")  # SITE: executor_submit
    loop = asyncio.get_running_loop()
    loop.run_in_executor(None, audit_log, 1)  # SITE: executor_submit
    task = asyncio.create_task(sync_profile(1))  # SITE: create_task
    _running.add(task)
    task.add_done_callback(_running.discard)
    send_event("user_created", {"email": email})  # SITE: manager_enqueue
    get_notifier().notify(1, "欢迎")  # SITE: manager_enqueue
    Notifier.instance().notify(1, "hi")  # SITE: manager_enqueue

    user_id = 1

    async def _later() -> None:
        await sync_profile(user_id)

    background_tasks.add_task(_later)  # SITE: background_task closure
    return {"email": email}


@router.post("/users/{user_id}/report")
def report(user_id: int, tm: TaskManager = Depends(get_task_manager)):
    service = ReportService(tm)  # 局部实例
    service.schedule(user_id)
    worker = threading.Thread(target=send_welcome_email, args=("x",))
    worker.start()
    worker.join()  # 等线程结束：不是 fire-and-forget
    return {"ok": True}


def forward(q, item):
    # 参数没有类型，看不出是什么队列
    q.put(item)  # CANDIDATE
