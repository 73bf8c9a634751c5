"""网关入口：启动时拉起所有后台任务。"""

import asyncio
import logging
import os
import threading
import time

from fastapi import FastAPI

from gateway.clock import get_sync_interval, ntp_sync
from gateway.devices import metrics_pusher, status_poller
from gateway.watchdog import watchdog

logger = logging.getLogger(__name__)
SESSIONS: dict[str, float] = {}
app = FastAPI()


def _gc_loop() -> None:
    # 清理过期会话：循环体直接写在这里
    while True:
        now = time.time()
        expired = [k for k, t in SESSIONS.items() if now - t > 3600]
        for key in expired:
            SESSIONS.pop(key, None)
        logger.info("清理了 %d 个会话", len(expired))
        time.sleep(int(os.getenv("GC_SECONDS", "120")))


async def sync_clock() -> None:
    while True:
        await ntp_sync()
        await asyncio.sleep(get_sync_interval())  # 间隔从远端配置读取


@app.on_event("startup")
async def startup() -> None:
    status_poller.start()
    metrics_pusher.start()
    watchdog.start()
    threading.Thread(target=_gc_loop, daemon=True).start()
    asyncio.create_task(sync_clock())


@app.post("/metrics/stop")
def stop_metrics():
    metrics_pusher.stop()  # 运维接口：临时停止上报
    return {"stopped": True}


@app.get("/sessions")
def sessions():
    return SESSIONS
