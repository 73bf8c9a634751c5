"""The generated schedule runs: a legacy app's loops (one sync thread loop, one async task
loop) go through ``beat-schedule --write``, then a real worker and a real beat tick them."""

from __future__ import annotations

import contextlib
import json
import textwrap
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import redis

from queue2celery import embedded_redis
from queue2celery.celery_tasks import start_worker
from queue2celery.celery_tasks.beat import BeatOptions, start_beat
from queue2celery.cli import main

pytestmark = [pytest.mark.worker]

JOBS = '''
"""旧代码: 两个后台循环, 每个 API 进程各跑一份."""

import asyncio
import json
import os
import threading
import time

import redis

TICK_SECONDS = 1


def _record(kind):
    client = redis.Redis.from_url(os.environ["REDIS_URL"], socket_timeout=5)
    client.rpush(os.environ["E2E_KEY"], json.dumps({"kind": kind, "t": time.time()}))


def sync_tick():
    _record("sync")


async def async_tick():
    await asyncio.sleep(0.01)
    _record("async")


def sync_loop():
    while True:
        sync_tick()
        time.sleep(TICK_SECONDS)


async def async_loop():
    while True:
        await async_tick()
        await asyncio.sleep(TICK_SECONDS * 2)


def start():
    threading.Thread(target=sync_loop, daemon=True).start()


async def startup():
    asyncio.create_task(async_loop())
'''

CELERY_APP = """
import os

from queue2celery.celery_tasks import make_celery_app

NAME = os.environ["E2E_NAME"]
celery_app = make_celery_app(
    NAME,
    broker_transport_options={"global_keyprefix": NAME + ":"},
    task_default_queue=NAME,
    beat_max_loop_interval=1,
)
"""


@pytest.fixture(params=["embedded", pytest.param("redis", marks=pytest.mark.redis)])
def redis_url(request: pytest.FixtureRequest) -> Iterator[str]:
    if request.param == "embedded":
        with embedded_redis() as url:
            yield url
    else:
        yield request.getfixturevalue("_real_redis_checked")


def test_generated_schedule_ticks_sync_and_async_jobs_under_a_real_beat(
    tmp_path: Path, redis_url: str, wait_until: Callable[..., Any], capsys
) -> None:
    root = tmp_path / "proj"
    (root / "legacyapp").mkdir(parents=True)
    (root / "legacyapp" / "__init__.py").write_text("")
    (root / "legacyapp" / "jobs.py").write_text(textwrap.dedent(JOBS), encoding="utf-8")
    (root / "legacyapp" / "celery_app.py").write_text(CELERY_APP, encoding="utf-8")
    args = ["beat-schedule", str(root), "--write", "legacyapp.periodic_tasks", "-j", "1"]
    assert main([*args, "--app", "legacyapp.celery_app:celery_app"]) == 0
    assert "2 job(s) scheduled" in capsys.readouterr().err
    name = f"q2ce2e-{uuid.uuid4().hex[:8]}"
    key = f"{name}:ticks"
    env = {"REDIS_URL": redis_url, "E2E_KEY": key, "E2E_NAME": name}
    spec = "legacyapp.periodic_tasks:celery_app"
    client = redis.Redis.from_url(redis_url, socket_timeout=5)
    with contextlib.ExitStack() as stack:
        stack.callback(client.close)
        stack.callback(_delete_keys, client, name)
        worker = start_worker(spec, cwd=root, env=env, pool="threads", concurrency=2, queues=[name])
        stack.callback(worker.stop)
        worker.wait_ready(60)
        beat = start_beat(
            spec, cwd=root, env=env, options=BeatOptions(lock_timeout=4, max_interval=1)
        )
        stack.callback(beat.stop)
        beat.wait_ready(30)

        def ticks() -> list[dict]:
            return [json.loads(raw) for raw in client.lrange(key, 0, -1)]

        def enough() -> bool:
            kinds = [t["kind"] for t in ticks()]
            return kinds.count("sync") >= 3 and kinds.count("async") >= 2

        assert wait_until(enough, timeout=30), (beat.log()[-1500:], worker.log()[-1500:])
        sync = sorted(t["t"] for t in ticks() if t["kind"] == "sync")
        gaps = [b - a for a, b in zip(sync, sync[1:], strict=False)]
        assert all(0.5 < gap < 2.5 for gap in gaps), gaps  # every second, each tick once


def _delete_keys(client: redis.Redis, prefix: str) -> None:
    keys = list(client.scan_iter(match=f"{prefix}*", count=1000))
    if keys:
        client.delete(*keys)
