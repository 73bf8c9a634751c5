"""The test app module source and the handle tests get to it (see conftest.celery_stack)."""

from __future__ import annotations

import contextlib
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

import uvicorn
from celery import Celery

from queue2celery.celery_tasks import WorkerProcess, celery_status

APP_MODULE = '''
"""A legacy TaskQueue moved to Celery: the app a user's project would have."""

import os

import redis

from queue2celery.celery_tasks import make_celery_app, register_handlers
from queue2celery.legacy_queue import TaskQueue

NAME = "{name}"

app = make_celery_app(NAME)
# Its own queue: workers of concurrent tests on the shared Redis never take these messages.
app.conf.task_default_queue = NAME
app.conf.result_expires = 600

task_queue = TaskQueue(route=lambda item: item["task"])
_redis = redis.Redis.from_url(os.environ["REDIS_URL"], socket_timeout=5)


def count_call(item):
    # The worker is another process: count attempts where the test can read them.
    key = NAME + ":calls:" + item["id"]
    calls = _redis.incr(key)
    _redis.expire(key, 600)
    return calls


class PaymentDeclined(Exception):
    pass


@task_queue.handler("double")
def double(item):
    return item["x"] * 2


@task_queue.handler("flaky", max_retries=3, retry_delay=0.2)
def flaky(item):
    calls = count_call(item)
    if calls < item["succeed_on"]:
        raise ConnectionError(f"attempt {{calls}} failed")
    return {{"attempt": calls}}


@task_queue.handler("always_fails", max_retries=2, retry_delay=0.1)
def always_fails(item):
    calls = count_call(item)
    raise PaymentDeclined(f"card declined on attempt {{calls}}")


@task_queue.handler("slow")
def slow(item):
    import time

    time.sleep(item["seconds"])
    return "done"


tasks = register_handlers(app, task_queue)
'''


@dataclass
class CeleryStack:
    """The test app module (imported here too), its worker and its Redis."""

    url: str
    name: str
    module: ModuleType
    worker: WorkerProcess
    directory: Path

    @property
    def app(self) -> Celery:
        app: Celery = self.module.app
        return app

    def item(self, task: str, **fields: Any) -> dict[str, Any]:
        return {"task": task, "id": uuid.uuid4().hex, **fields}

    def calls(self, item: dict[str, Any]) -> int:
        value = self.module._redis.get(f"{self.name}:calls:{item['id']}")
        return int(value or 0)

    def wait_ready(self, task_id: str, timeout: float = 30.0) -> dict[str, Any]:
        """Poll the status until SUCCESS or FAILURE (bounded)."""
        deadline = time.monotonic() + timeout
        status = celery_status(self.app, task_id)
        while status["status"] not in ("SUCCESS", "FAILURE") and time.monotonic() < deadline:
            time.sleep(0.05)
            status = celery_status(self.app, task_id)
        return status


@contextlib.contextmanager
def serve(api: Any, port: int) -> Iterator[str]:
    """Serve the ASGI ``api`` with uvicorn on a loopback port in a thread; always stopped."""
    config = uvicorn.Config(api, host="127.0.0.1", port=port, log_level="warning", lifespan="off")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name="q2c-test-uvicorn", daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 20
        while not server.started and thread.is_alive() and time.monotonic() < deadline:
            time.sleep(0.02)
        assert server.started, "uvicorn did not start within 20s"
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        assert not thread.is_alive(), "uvicorn did not stop within 10s"
