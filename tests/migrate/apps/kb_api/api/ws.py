"""WebSocket 与 SSE：asyncio.Queue 作发布订阅通道（相似代码，不应报告）。"""
import asyncio
import logging
import logging.handlers
import queue

from fastapi import APIRouter, WebSocket
from fastapi.responses import StreamingResponse

router = APIRouter()
_log_queue: "queue.Queue" = queue.Queue()
logging.getLogger("kb").addHandler(logging.handlers.QueueHandler(_log_queue))


class Broadcaster:
    def __init__(self) -> None:
        self.subscribers: set[asyncio.Queue] = set()

    async def publish(self, message: str) -> None:
        for q in self.subscribers:
            await q.put(message)


broadcaster = Broadcaster()


@router.websocket("/ws")
async def ws(websocket: WebSocket):
    await websocket.accept()
    q: asyncio.Queue = asyncio.Queue()
    broadcaster.subscribers.add(q)
    try:
        while True:
            msg = await q.get()
            await websocket.send_text(msg)
    finally:
        broadcaster.subscribers.discard(q)


@router.get("/sse")
async def sse():
    q: asyncio.Queue = asyncio.Queue()

    async def gen():
        while True:
            item = await q.get()
            yield f"data: {item}\n\n"

    await q.put("hello")
    return StreamingResponse(gen(), media_type="text/event-stream")
