"""An asyncio.Queue app: the workload awaits put, the handler is a coroutine function."""

import asyncio

from queue2celery.legacy_queue import adopt


async def resize(job):
    await asyncio.sleep(0)
    return {"w": job["w"] * 2, "sizes": job["sizes"]}


task_queue = adopt(asyncio.Queue(), run=resize, name="adopted_async.resize")


async def workload(q):
    await q.put({"w": 3, "sizes": {720: "hd"}})
    q.put_nowait({"w": 4, "sizes": {}})
    await q.put(None)  # the sentinel
