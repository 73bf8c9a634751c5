"""The status API when Redis freezes: bounded 503s, and the event loop keeps serving."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
from _celery_stack import serve
from fastapi import FastAPI

from queue2celery.celery_tasks import make_celery_app, make_router, register_handlers
from queue2celery.legacy_queue import TaskQueue

pytestmark = pytest.mark.reliability

TIMEOUT = 1.0  # seconds per Redis socket operation, instead of the default 5, to stay fast


@pytest.fixture
def frozen_api(
    redis_server_factory: Callable[[], Any], free_port: int
) -> Iterator[tuple[str, Any, str]]:
    """The router on a private redis-server, served by uvicorn; yields (url, server, id)."""
    server = redis_server_factory()
    app = make_celery_app(
        "frozen",
        broker_url=server.url,
        result_backend=server.url,
        redis_socket_timeout=TIMEOUT,
        redis_socket_connect_timeout=TIMEOUT,
        broker_connection_timeout=TIMEOUT,
        broker_transport_options={"socket_timeout": TIMEOUT, "socket_connect_timeout": TIMEOUT},
    )
    queue = TaskQueue()
    queue.add_handler("job", lambda item: item)
    register_handlers(app, queue)
    api = FastAPI()
    api.include_router(make_router(app))

    @api.get("/health")
    async def health() -> dict[str, bool]:
        return {"ok": True}

    with serve(api, free_port) as base_url:
        with httpx.Client(base_url=base_url, timeout=30) as http:
            sent = http.post("/tasks/job", json={"n": 1})
            assert sent.status_code == 202
        try:
            yield base_url, server, sent.json()["task_id"]
        finally:
            server.thaw()
            app.close()


def test_a_status_read_on_a_frozen_redis_answers_503_while_other_requests_are_served(
    frozen_api: tuple[str, Any, str],
) -> None:
    base_url, server, task_id = frozen_api
    server.freeze()
    answers: dict[str, Any] = {}

    def read_status() -> None:
        started = time.monotonic()
        with httpx.Client(base_url=base_url, timeout=30) as http:
            answers["status"] = http.get(f"/tasks/{task_id}")
        answers["seconds"] = time.monotonic() - started

    reader = threading.Thread(target=read_status)
    reader.start()
    try:
        time.sleep(0.2)
        with httpx.Client(base_url=base_url, timeout=5) as http:
            started = time.monotonic()
            assert http.get("/health").json() == {"ok": True}
            health_seconds = time.monotonic() - started
        # The read is still waiting on Redis, yet the event loop answered at once.
        assert reader.is_alive()
        assert health_seconds < TIMEOUT / 2
    finally:
        reader.join(timeout=30)
    response = answers["status"]
    assert response.status_code == 503
    assert "Redis did not answer" in response.json()["detail"]
    assert answers["seconds"] < 10 * TIMEOUT


def test_a_send_on_a_frozen_redis_answers_503_within_a_bounded_time(
    frozen_api: tuple[str, Any, str],
) -> None:
    base_url, server, _ = frozen_api
    server.freeze()
    started = time.monotonic()
    with httpx.Client(base_url=base_url, timeout=60) as http:
        response = http.post("/tasks/job", json={"n": 2})
    elapsed = time.monotonic() - started
    assert response.status_code == 503
    assert "check that Redis runs" in response.json()["detail"]
    # kombu retries the publish a few times, each bounded by the socket timeout.
    assert elapsed < 15 * TIMEOUT
