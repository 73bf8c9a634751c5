"""The source of a project's periodic jobs module, as the generated code would look.

Each run records its start and end in Redis, so a test (another process) can see whether
two runs overlapped and what arguments each got.
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

from queue2celery import embedded_redis
from queue2celery.celery_tasks import WorkerProcess, start_worker

JOBS_MODULE = '''
"""定时任务: 原来是 while True 循环, 现在由 Celery Beat 调度."""

import asyncio
import json
import os
import time

import redis

from queue2celery.celery_tasks import make_celery_app
from queue2celery.celery_tasks.periodic import periodic_task

NAME = "{name}"

app = make_celery_app(
    NAME,
    # 测试共用一个 Redis: 每个测试自己的前缀和队列
    broker_transport_options={{"global_keyprefix": NAME + ":"}},
    task_default_queue=NAME,
    result_expires=600,
    beat_max_loop_interval=1,
)
_redis = redis.Redis.from_url(os.environ["REDIS_URL"], socket_timeout=5)


def _record(job, args, started):
    # 记录每次运行的开始/结束时间 (worker 是另一个进程)
    entry = {{"job": job, "args": args, "start": started, "end": time.time(), "pid": os.getpid()}}
    _redis.rpush(NAME + ":runs", json.dumps(entry))


# 每秒一次 (测试用秒级间隔); JOB_SECONDS 让任务比间隔更慢
app.conf.beat_schedule = {{
    "cleanup-sessions": {{
        "task": NAME + ".cleanup",
        "schedule": float(os.environ.get("JOB_EVERY", "1")),
        "kwargs": {{"days": 7, "seconds": float(os.environ.get("JOB_SECONDS", "0"))}},
    }},
}}


@periodic_task(app, name=NAME + ".cleanup", lock_ttl=3, shared=False)
def cleanup_expired_sessions(days=7, seconds=0.0):
    started = time.time()
    time.sleep(seconds)  # 模拟慢任务
    _record("cleanup", [days, seconds], started)
    return days


@periodic_task(app, name=NAME + ".refresh", lock_ttl=3, shared=False)
async def refresh_cache(region):
    started = time.time()
    await asyncio.sleep(0.05)
    _record("refresh", [region], started)
    return region.upper()
'''


@dataclass
class JobsStack:
    url: str
    name: str
    module: ModuleType
    directory: Path
    worker: WorkerProcess | None

    @property
    def app_spec(self) -> str:
        return f"{self.module.__name__}:app"

    def client(self) -> redis.Redis:
        return redis.Redis.from_url(self.url, socket_timeout=5)

    def runs(self) -> list[dict]:
        import json

        return [json.loads(raw) for raw in self.client().lrange(f"{self.name}:runs", 0, -1)]


def _delete_keys(url: str, prefix: str) -> None:
    client = redis.Redis.from_url(url, socket_timeout=5)
    keys = list(client.scan_iter(match=f"{prefix}*", count=1000))
    if keys:
        client.delete(*keys)
    client.close()


@contextlib.contextmanager
def jobs_stack(
    request: pytest.FixtureRequest,
    directory: Path,
    *,
    backend: str,
    pool: str = "threads",
    concurrency: int = 4,
    worker: bool = True,
) -> Iterator[JobsStack]:
    """The jobs module on ``backend`` ("embedded" or "redis"), with a worker unless told not."""
    with contextlib.ExitStack() as stack:
        if backend == "embedded":
            url = stack.enter_context(embedded_redis())
        else:
            url = request.getfixturevalue("_real_redis_checked")
        name = f"q2ctest-{uuid.uuid4().hex[:10]}"
        module_name = name.replace("-", "_") + "_jobs"
        (directory / f"{module_name}.py").write_text(
            textwrap.dedent(JOBS_MODULE.format(name=name)), encoding="utf-8"
        )
        with pytest.MonkeyPatch.context() as mp:
            mp.setenv("REDIS_URL", url)
            mp.syspath_prepend(str(directory))
            module = importlib.import_module(module_name)
        stack.callback(sys.modules.pop, module_name, None)
        stack.callback(module.app.close)
        stack.callback(_delete_keys, url, name)
        proc = None
        if worker:
            proc = start_worker(
                f"{module_name}:app",
                cwd=directory,
                env={"REDIS_URL": url},
                pool=pool,
                concurrency=concurrency,
                queues=[name],
            )
            stack.callback(proc.stop)
            proc.wait_ready(60)
        yield JobsStack(url, name, module, directory, proc)
