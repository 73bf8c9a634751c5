"""事件总线：一个线程消费 queue.Queue，发送 webhook。"""
import asyncio
import queue
import threading

import httpx

_events: "queue.Queue[dict]" = queue.Queue(maxsize=1000)


def send_event(name: str, **data) -> None:
    """业务代码调用这个包装函数。"""
    _events.put_nowait({"name": name, "data": data})  # SITE: queue_put


async def _deliver(event: dict) -> None:
    async with httpx.AsyncClient() as client:
        await client.post("http://hooks.local/", json=event)


async def _pump() -> None:
    loop = asyncio.get_running_loop()
    while True:
        event = await loop.run_in_executor(None, _events.get)
        await _deliver(event)


async def _run_all() -> None:
    await asyncio.gather(_pump(), _pump())


def _thread_main() -> None:
    asyncio.run(_run_all())


def start_event_thread() -> threading.Thread:
    t = threading.Thread(target=_thread_main, name="events", daemon=True)
    t.start()
    return t
