"""后台循环任务（每个 API 进程都会启动一份）。"""

import asyncio
import logging
import queue
import threading
import time

import requests

from app.core.config import settings
from app.core.constants import STATS_FLUSH_INTERVAL
from app.services.cache import refresh_hot_products
from app.services.orders import cancel_expired_orders
from app.services.stats import flush_stats

logger = logging.getLogger(__name__)
STOP = threading.Event()
email_queue: "queue.Queue[dict]" = queue.Queue()


def order_timeout_loop() -> None:
    """每分钟检查一次超时订单。"""
    while True:
        try:
            cancel_expired_orders()
        except Exception:  # 出错也不能让线程退出
            logger.exception("检查超时订单失败")
        time.sleep(settings.ORDER_TIMEOUT_CHECK_SECONDS)


async def cache_refresher() -> None:
    while True:
        await refresh_hot_products()
        await asyncio.sleep(settings.CACHE_REFRESH_MINUTES * 60)


def _flush_loop(stop: threading.Event) -> None:
    while not stop.is_set():
        flush_stats()
        stop.wait(STATS_FLUSH_INTERVAL)


def _run_flush(stop: threading.Event) -> None:
    logger.info("统计落盘线程启动")
    _flush_loop(stop)


# ---- 下面这些不是定时任务 ----

def fetch_with_retry(url: str) -> requests.Response:
    """重试三次，每次间隔指数退避。"""
    attempt = 0
    while True:
        try:
            return requests.get(url, timeout=5)
        except requests.RequestException:
            attempt += 1
            if attempt >= 3:
                raise
            time.sleep(2**attempt)


def email_consumer() -> None:
    """从队列里取邮件任务发送（消费者，不是周期任务）。"""
    while True:
        job = email_queue.get()
        try:
            requests.post("http://mailer.internal/send", json=job, timeout=10)
        finally:
            email_queue.task_done()
        time.sleep(0.1)


def start_background_workers() -> None:
    threading.Thread(target=order_timeout_loop, daemon=True, name="order-timeout").start()
    flusher = threading.Thread(target=_run_flush, args=(STOP,), daemon=True)
    flusher.start()
    threading.Thread(target=email_consumer, daemon=True).start()
