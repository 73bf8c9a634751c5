"""An app that keeps its own queues, adopted, with one real worker behind it.

The app module is written the way such apps are: a plain queue.Queue drained by the app's
own thread, and a manager whose PriorityQueue holds (priority, Task) entries and whose
handlers are async bound methods. What the worker does is written to Redis, where the test
can read it (the worker is another process).
"""

from __future__ import annotations

import contextlib
import importlib
import sys
import textwrap
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

import pytest
import redis

from queue2celery.celery_tasks import WorkerProcess, start_worker

APP_MODULE = '''
"""后台任务：模块级队列 + 任务管理器（adopt 之后的样子）。"""

import asyncio
import dataclasses
import json
import os
import queue
import time

import redis
from pydantic import BaseModel

from queue2celery.celery_tasks import make_celery_app
from queue2celery.compat import CompatQueue, Rollout
from queue2celery.legacy_queue import adopt

NAME = "{name}"

app = make_celery_app(NAME)
app.conf.task_default_queue = NAME
app.conf.result_expires = 600
# 0-9 kept apart (Redis groups them by 0, 3, 6, 9 otherwise).
app.conf.broker_transport_options = {{"priority_steps": list(range(10))}}
_redis = redis.Redis.from_url(os.environ["REDIS_URL"], socket_timeout=5)


def note(kind, value):
    _redis.rpush(NAME + ":" + kind, value)
    _redis.expire(NAME + ":" + kind, 600)


@dataclasses.dataclass
class Task:
    kind: str
    data: dict
    priority: int = 5


class Order(BaseModel):
    order_id: int
    items: list[str]


def run_job(job):
    # 普通的同步处理函数
    if job.get("hold"):
        note("held", "1")
        deadline = time.monotonic() + 20
        while not _redis.exists(NAME + ":release") and time.monotonic() < deadline:
            time.sleep(0.02)
    note("run", json.dumps(job))
    return job["n"] * 2


jobs = queue.Queue()
job_queue = CompatQueue(
    adopt(jobs, run=run_job), app, rollout=Rollout.all_celery(), namespace=NAME
)


class TaskManager:
    def __init__(self):
        self.handlers = {{}}
        self.task_status = {{}}
        self.queue = CompatQueue(
            adopt(queue.PriorityQueue(), run=self.execute, types=[Task, Order]),
            app,
            rollout=Rollout.all_celery(),
            namespace=NAME,
        )
        self.register_handler("echo", self.handle_echo)
        self.register_handler("order", self.handle_order)

    def register_handler(self, kind, func):
        self.handlers[kind] = func

    def add_task(self, kind, data, priority=5):
        self.queue.put((priority, Task(kind, data, priority)))

    async def execute(self, task):
        return await self.handlers[task.kind](task)

    async def handle_echo(self, task):
        await asyncio.sleep(0.001)
        self.task_status[task.data["id"]] = "done"
        note("echo", json.dumps([type(task).__name__, task.kind, task.data, task.priority]))
        note("status", json.dumps(self.task_status))
        return {{"id": task.data["id"]}}

    async def handle_order(self, task):
        order = task.data["order"]
        note("order", json.dumps([type(order).__module__ + "." + type(order).__name__,
                                  order.model_dump(), task.data["id"]]))
        return order.order_id


manager = TaskManager()

# Handlers registered after the queue is built (plugins, a registry filled at import).
LATE = {{}}
late_queue = CompatQueue(
    adopt(queue.Queue(), handlers=LATE, route=lambda job: job["type"], name=NAME + ".late"),
    app,
    rollout=Rollout.all_celery(),
    namespace=NAME,
)


def ping(job):
    return "pong " + job["who"]


LATE["ping"] = ping
'''


@dataclass
class AdoptStack:
    url: str
    name: str
    module: ModuleType
    worker: WorkerProcess

    def client(self) -> redis.Redis:
        return redis.Redis.from_url(self.url, socket_timeout=5)

    def notes(self, kind: str) -> list[str]:
        with self.client() as client:
            return [raw.decode() for raw in client.lrange(f"{self.name}:{kind}", 0, -1)]


@contextlib.contextmanager
def adopt_project(url: str, directory: Path) -> Iterator[AdoptStack]:
    name = f"q2cadopt{uuid.uuid4().hex[:10]}"
    module_name = f"{name}_app"
    (directory / f"{module_name}.py").write_text(
        textwrap.dedent(APP_MODULE.format(name=name)), encoding="utf-8"
    )
    # A module a forged message could name: importing it would leave a trace in Redis.
    (directory / f"{name}_evil.py").write_text(
        "import os, redis\n"
        f"redis.Redis.from_url(os.environ['REDIS_URL']).rpush('{name}:evil', 'imported')\n"
        "class Thing:\n    pass\n",
        encoding="utf-8",
    )
    with contextlib.ExitStack() as stack:
        with pytest.MonkeyPatch.context() as mp:
            mp.setenv("REDIS_URL", url)
            mp.syspath_prepend(str(directory))
            mp.delenv("CELERY_BROKER_URL", raising=False)
            mp.delenv("CELERY_RESULT_BACKEND", raising=False)
            module = importlib.import_module(module_name)
        stack.callback(sys.modules.pop, module_name, None)
        stack.callback(_delete_keys, url, name)
        stack.callback(module.app.close)
        stack.callback(module.job_queue.close)
        stack.callback(module.manager.queue.close)
        stack.callback(module.late_queue.close)
        proc = start_worker(
            f"{module_name}:app", cwd=directory, env={"REDIS_URL": url}, queues=[name]
        )
        stack.callback(proc.stop)
        proc.wait_ready(90)
        yield AdoptStack(url, name, module, proc)


def _delete_keys(url: str, prefix: str) -> None:
    client = redis.Redis.from_url(url, socket_timeout=5)
    try:
        keys = list(client.scan_iter(match=f"{prefix}*", count=1000))
        if keys:
            client.delete(*keys)
    finally:
        client.close()
