"""A worker started before Redis (the desktop start order) waits for it, then runs tasks."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import pytest

from queue2celery.celery_tasks import make_celery_app

pytestmark = [pytest.mark.worker, pytest.mark.reliability]

APP = """
from queue2celery.celery_tasks import make_celery_app

app = make_celery_app("before_redis", {overrides})


@app.task(name="before_redis.add", shared=False)
def add(x, y):
    return x + y
"""


def test_the_app_retries_the_broker_for_as_long_as_it_takes() -> None:
    conf = make_celery_app().conf
    assert conf.broker_connection_retry_on_startup is True
    assert conf.broker_connection_max_retries is None  # Celery's default gives up after 100


def test_a_worker_started_30s_before_redis_comes_up_and_runs_a_task(
    worker_factory: Callable[..., Any],
    write_module: Callable[[str, str], Any],
    redis_server_factory: Callable[..., Any],
) -> None:
    # A private server on a spare port, stopped at once: the worker starts with nothing there.
    server = redis_server_factory()
    server.stop()
    url = server.url
    module = write_module("before_redis_app", APP.format(overrides=""))
    worker = worker_factory(
        "before_redis_app:app", ready=False, cwd=module.parent, env={"REDIS_URL": url}
    )
    try:
        time.sleep(30)
        assert worker.alive(), worker.log()[-2000:]
        assert "Trying again" in worker.log()
        server.start()
        worker.wait_ready(60)
        app = make_celery_app("before_redis_client", broker_url=url, result_backend=url)
        try:
            result = app.send_task("before_redis.add", (2, 3))
            assert result.get(timeout=30) == 5
        finally:
            app.close()
    finally:
        worker.stop()
        server.stop()


def test_with_a_bounded_retry_count_the_worker_gives_up(
    worker_factory: Callable[..., Any],
    write_module: Callable[[str, str], Any],
    wait_until: Callable[..., Any],
    free_port: int,
) -> None:
    # The control: the setting make_celery_app changes is the one that decides.
    url = f"redis://127.0.0.1:{free_port}/0"
    module = write_module(
        "bounded_retry_app", APP.format(overrides="broker_connection_max_retries=1")
    )
    worker = worker_factory(
        "bounded_retry_app:app", ready=False, cwd=module.parent, env={"REDIS_URL": url}
    )
    assert wait_until(lambda: not worker.alive(), timeout=30), worker.log()[-2000:]
