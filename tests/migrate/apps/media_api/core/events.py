"""事件总线：模块级队列，线程里用 asyncio.run 跑多个 worker 协程。"""

from __future__ import annotations

import asyncio
import logging
import queue
from typing import Any

logger = logging.getLogger(__name__)

event_queue: queue.Queue = queue.Queue()


def send_event(kind: str, payload: dict[str, Any]) -> None:
    """封装一层，调用方不用关心队列。"""
    event_queue.put({"kind": kind, "payload": payload})  # SITE: queue_put


async def dispatch(event: dict[str, Any]) -> None:
    logger.info("event %s", event)


async def worker(n: int) -> None:
    while True:
        event = event_queue.get()
        await dispatch(event)


async def run_workers() -> None:
    await asyncio.gather(worker(1), worker(2))


def run_event_loop_worker() -> None:
    asyncio.run(run_workers())
