"""商城后端入口。"""

import asyncio
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request, WebSocket
from sse_starlette.sse import EventSourceResponse

from app.services.cache import get_hot_products
from app.services.orders_repo import get_order
from app.workers.loops import cache_refresher, start_background_workers


@asynccontextmanager
async def lifespan(app: FastAPI):
    start_background_workers()
    app.state.cache_task = asyncio.create_task(cache_refresher())
    yield
    app.state.cache_task.cancel()


app = FastAPI(lifespan=lifespan)


@app.get("/products/hot")
def hot_products():
    return get_hot_products()


@app.get("/orders/{order_id}/wait-paid")
async def wait_paid(order_id: int):
    """前端轮询：等订单支付完成（请求内的轮询，不是定时任务）。"""
    while True:
        order = await get_order(order_id)
        if order.paid:
            return order
        await asyncio.sleep(1)


@app.get("/events")
async def events(request: Request):
    async def stream():
        while True:
            if await request.is_disconnected():
                break
            yield {"event": "heartbeat", "data": "ping"}  # SSE 心跳
            await asyncio.sleep(15)

    return EventSourceResponse(stream())


async def _keepalive(ws: WebSocket) -> None:
    while True:
        await asyncio.sleep(20)
        await ws.send_json({"type": "ping"})  # websocket 保活


@app.websocket("/ws")
async def ws_endpoint(websocket: WebSocket):
    await websocket.accept()
    keepalive = asyncio.create_task(_keepalive(websocket))
    try:
        while True:
            msg = await websocket.receive_text()
            await websocket.send_text(msg)
    finally:
        keepalive.cancel()
