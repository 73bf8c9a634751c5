"""任务队列：模块级 queue.Queue，启动时拉起两个工作线程。

路由里 task_queue.put({"type": ..., "payload": {...}})，工作线程取出来按 type 分发。
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from typing import Any

from fastapi_app.tasks.handlers import HANDLERS

logger = logging.getLogger(__name__)

task_queue: queue.Queue[Any] = queue.Queue()

WORKER_COUNT = 2
MAX_ATTEMPTS = 3  # 失败了自己重试，最多 3 次
RETRY_DELAY = 0.5

_threads: list[threading.Thread] = []


def worker_loop() -> None:
    while True:
        job = task_queue.get()
        if job is None:  # 关闭信号
            task_queue.task_done()
            break
        handler = HANDLERS.get(job["type"])
        if handler is None:
            logger.error("unknown job type %r", job["type"])
            task_queue.task_done()
            continue
        for attempt in range(1, MAX_ATTEMPTS + 1):
            try:
                handler(**job["payload"])
                break
            except Exception:
                logger.warning("job %s failed (attempt %d)", job["type"], attempt, exc_info=True)
                time.sleep(RETRY_DELAY)
        task_queue.task_done()


def start_workers() -> None:
    for index in range(WORKER_COUNT):
        thread = threading.Thread(target=worker_loop, name=f"task-worker-{index}", daemon=True)
        thread.start()
        _threads.append(thread)


def stop_workers(timeout: float = 5.0) -> None:
    # 每个线程一个 None，让它们处理完手上的任务再退出
    for _ in _threads:
        task_queue.put(None)
    for thread in _threads:
        thread.join(timeout)
    _threads.clear()
