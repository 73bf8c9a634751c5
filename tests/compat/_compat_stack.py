"""The compat test project: its app module source and a context manager to run it."""

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
from typing import Any

import pytest
import redis

from queue2celery.celery_tasks import WorkerProcess, start_worker

APP_MODULE = '''
"""A legacy TaskQueue moved to Celery through a CompatQueue."""

import os

import redis

from queue2celery.celery_tasks import make_celery_app
from queue2celery.compat import CompatQueue, Rollout
from queue2celery.legacy_queue import TaskQueue

NAME = "{name}"

app = make_celery_app(NAME)
app.conf.task_default_queue = NAME
app.conf.result_expires = 600

task_queue = TaskQueue(workers=2, route=lambda item: item["h"])
_redis = redis.Redis.from_url(os.environ["REDIS_URL"], socket_timeout=5)


@task_queue.handler("{name}.echo")
def echo(item):
    return item["v"]


@task_queue.handler("{name}.types")
def types(item):
    # What the handler received, as type names (drift shows up here).
    value = item["v"]
    if isinstance(value, dict):
        return {{"type": "dict", "keys": sorted(type(k).__name__ for k in value)}}
    return {{"type": type(value).__name__}}


@task_queue.handler("{name}.count")
def count(item):
    # The worker is another process: count runs where the test can read them.
    key = NAME + ":ran:" + str(item["n"])
    _redis.incr(key)
    _redis.expire(key, 600)
    _redis.rpush(NAME + ":order", str(item["n"]))
    _redis.expire(NAME + ":order", 600)
    return item["n"]


@task_queue.handler("{name}.fail")
def fail(item):
    raise ValueError("boom " + str(item["v"]))


# Building it registers every handler as a Celery task: the worker needs nothing else.
compat = CompatQueue(task_queue, app, rollout=Rollout.all_celery(), namespace=NAME)
'''


@dataclass
class CompatStack:
    """The app module, its Redis and the worker consuming its queue."""

    url: str
    name: str
    module: ModuleType
    worker: WorkerProcess | None
    directory: Path

    def h(self, handler: str) -> str:
        return f"{self.name}.{handler}"

    def item(self, handler: str, **fields: Any) -> dict[str, Any]:
        return {"h": self.h(handler), **fields}

    def client(self) -> redis.Redis:
        return redis.Redis.from_url(self.url, socket_timeout=5)


def write_app_module(directory: Path, name: str) -> str:
    module_name = name.replace("-", "_") + "_compat_app"
    (directory / f"{module_name}.py").write_text(
        textwrap.dedent(APP_MODULE.format(name=name)), encoding="utf-8"
    )
    return module_name


def import_app_module(directory: Path, module_name: str, url: str) -> ModuleType:
    # REDIS_URL is read when the module builds its app; set only for that moment.
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("REDIS_URL", url)
        mp.syspath_prepend(str(directory))
        mp.delenv("CELERY_BROKER_URL", raising=False)
        mp.delenv("CELERY_RESULT_BACKEND", raising=False)
        return importlib.import_module(module_name)


def delete_keys(url: str, prefix: str) -> None:
    client = redis.Redis.from_url(url, socket_timeout=5)
    try:
        keys = list(client.scan_iter(match=f"{prefix}*", count=1000))
        if keys:
            client.delete(*keys)
    finally:
        client.close()


@contextlib.contextmanager
def compat_project(url: str, directory: Path, *, worker: bool = True) -> Iterator[CompatStack]:
    name = f"q2ctest-{uuid.uuid4().hex[:10]}"
    module_name = write_app_module(directory, name)
    with contextlib.ExitStack() as stack:
        module = import_app_module(directory, module_name, url)
        stack.callback(sys.modules.pop, module_name, None)
        stack.callback(delete_keys, url, name)
        stack.callback(module.app.close)
        stack.callback(module.compat.close)
        stack.callback(module.task_queue.stop)
        proc = None
        if worker:
            proc = start_worker(
                f"{module_name}:app",
                cwd=directory,
                env={"REDIS_URL": url},
                queues=[name],
            )
            stack.callback(proc.stop)
            proc.wait_ready(90)
        yield CompatStack(url, name, module, proc, directory)
