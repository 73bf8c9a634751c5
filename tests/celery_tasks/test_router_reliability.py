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
    detail = response.json()["detail"]
    assert "Check that Redis runs" in detail["message"]
    assert detail["task_id"] and detail["task_id"] in detail["message"]
    assert isinstance(detail["may_have_been_sent"], bool)
    assert elapsed <= 5.0


def _queued_ids(server: Any, queue: str = "celery") -> list[str]:
    import json

    import redis

    client = redis.Redis(port=server.port, socket_timeout=5)
    try:
        return [json.loads(m)["headers"]["id"] for m in client.lrange(queue, 0, -1)]
    finally:
        client.close()


@pytest.mark.parametrize("how", ["query", "header"])
def test_a_send_on_a_frozen_redis_then_a_retry_with_its_id_queues_it_once(
    frozen_api: tuple[str, Any, str], how: str
) -> None:
    # Issue 14: 503 after 25.6 s, the message landed after the thaw, a retry duplicated it.
    base_url, server, _ = frozen_api
    before = _queued_ids(server)
    server.freeze()
    started = time.monotonic()
    try:
        with httpx.Client(base_url=base_url, timeout=60) as http:
            response = http.post("/tasks/job", json={"n": 3})
    finally:
        elapsed = time.monotonic() - started
        server.thaw()
    print(f'\nFIGURES {{"test": "api_post_frozen_{how}", "answer_s": {elapsed:.2f}}}')
    assert response.status_code == 503 and elapsed <= 5.0, (response.text, elapsed)
    task_id = response.json()["detail"]["task_id"]
    time.sleep(0.5)  # what the frozen server had in its socket has run by now
    assert _queued_ids(server) == before, "a push ran after the 503"
    with httpx.Client(base_url=base_url, timeout=30) as http:
        kwargs: dict[str, Any] = (
            {"params": {"task_id": task_id}}
            if how == "query"
            else {"headers": {"Idempotency-Key": task_id}}
        )
        first = http.post("/tasks/job", json={"n": 3}, **kwargs)
        again = http.post("/tasks/job", json={"n": 3}, **kwargs)
        bad = http.post("/tasks/job", json={"n": 3}, params={"task_id": "no spaces allowed"})
    assert first.status_code == again.status_code == 202
    assert first.json()["task_id"] == again.json()["task_id"] == task_id
    assert (first.json()["duplicate"], again.json()["duplicate"]) == (False, True)
    assert _queued_ids(server).count(task_id) == 1
    assert bad.status_code == 422


def test_get_says_where_the_task_is_not_just_pending(frozen_api: tuple[str, Any, str]) -> None:
    # No worker consumes here: both tasks wait, and PENDING says which place in line.
    base_url, _server, first_id = frozen_api
    with httpx.Client(base_url=base_url, timeout=30) as http:
        second_id = http.post("/tasks/job", json={"n": 2}).json()["task_id"]
        first = http.get(f"/tasks/{first_id}").json()
        second = http.get(f"/tasks/{second_id}").json()
        never = http.get("/tasks/00000000-0000-4000-8000-00000000dead")
    assert first["status"] == second["status"] == "PENDING"
    assert (first["location"]["state"], first["location"]["evidence"]["position"]) == (
        "queued",
        1,
    )
    assert second["location"]["evidence"]["position"] == 2
    assert never.status_code == 404


def test_a_broker_that_is_not_redis_is_sent_through_celery_within_the_bound(
    embedded_url: str,
) -> None:
    from fastapi.testclient import TestClient

    app = make_celery_app("memory-broker", broker_url="memory://", result_backend=embedded_url)
    queue = TaskQueue()
    queue.add_handler("job", lambda item: item)
    register_handlers(app, queue)
    api = FastAPI()
    api.include_router(make_router(app))
    try:
        http = TestClient(api)
        started = time.monotonic()
        sent = http.post("/tasks/job", json={"n": 1}, params={"task_id": "mem-1"})
        assert sent.status_code == 202 and sent.json()["task_id"] == "mem-1"
        assert time.monotonic() - started <= 5.0
        with app.connection_for_read() as conn:
            message = conn.SimpleQueue("celery", no_ack=True).get(timeout=5)
            assert message.headers["id"] == "mem-1"
    finally:
        app.close()
