"""``doctor --task`` reads queue2celery's worker leases: a busy solo worker that cannot answer a
broadcast is still known to run its task, and a killed one is known to be dead, with its task
on the way back to the queue."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import redis

from queue2celery.cli import main as cli_main

pytestmark = [pytest.mark.worker]

APP = """
import time

import redis

from queue2celery.celery_tasks import make_celery_app

NAME = {name!r}
URL = {url!r}

app = make_celery_app(
    NAME,
    broker_url=URL,
    result_backend=URL,
    task_default_queue=NAME,
    broker_transport_options={{"lease_timeout": 3}},
)
_redis = redis.Redis.from_url(URL, socket_timeout=5)


@app.task(name=NAME + ".hold", shared=False)
def hold(key):
    # 等测试放行（最多 60 秒）
    deadline = time.monotonic() + 60
    while not _redis.exists(key) and time.monotonic() < deadline:
        time.sleep(0.05)
    return "released"
"""


def _where(spec: str, task_id: str, capsys: pytest.CaptureFixture[str]) -> dict[str, Any]:
    cli_main(["doctor", "--task", task_id, "-A", spec, "--json", "--timeout", "0.5"])
    return json.loads(capsys.readouterr().out)


def test_the_lease_tells_a_busy_worker_from_a_dead_one(
    embedded_url: str,
    write_module: Callable[[str, str], Path],
    worker_factory: Callable[..., Any],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    name = f"q2clease{uuid.uuid4().hex[:8]}"
    write_module(f"{name}_app", APP.format(name=name, url=embedded_url))
    spec = f"{name}_app:app"
    import importlib

    module = importlib.import_module(f"{name}_app")
    client = redis.Redis.from_url(embedded_url, socket_timeout=5)
    worker = worker_factory(spec, cwd=tmp_path, queues=[name], pool="solo")
    try:
        running = module.hold.delay(f"{name}:release")
        deadline = time.monotonic() + 30
        while running.state != "STARTED" and time.monotonic() < deadline:
            time.sleep(0.05)
        assert running.state == "STARTED", worker.log()[-2000:]
        alive = _where(spec, running.id, capsys)
        assert alive["state"] == "running", alive
        assert "renewed its lease" in alive["detail"], alive
        assert alive["evidence"]["lease_worker_alive"] is True
        worker.kill()
        time.sleep(4.5)  # past the 3 s lease timeout: no beat since the kill
        dead = _where(spec, running.id, capsys)
        assert dead["state"] == "reserved", dead
        assert "stopped renewing its lease" in dead["detail"], dead
        assert dead["evidence"]["lease_worker_alive"] is False
    finally:
        client.set(f"{name}:release", 1)
        worker.stop()
        client.close()
        module.app.close()
