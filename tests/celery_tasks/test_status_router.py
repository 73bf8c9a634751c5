from __future__ import annotations

import inspect
import time
import uuid
import warnings
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
from _celery_stack import CeleryStack, serve
from fastapi import FastAPI
from starlette import exceptions as starlette_exceptions

from queue2celery.celery_tasks import make_celery_app, make_router

with warnings.catch_warnings():
    # Starlette asks for httpx2 in its TestClient; httpx is what the project ships with.
    warnings.simplefilter(
        "ignore",
        getattr(starlette_exceptions, "StarletteDeprecationWarning", DeprecationWarning),
    )
    from fastapi.testclient import TestClient

pytestmark = pytest.mark.worker


def _api(stack: CeleryStack) -> FastAPI:
    api = FastAPI()
    api.include_router(make_router(stack.app))
    return api


@pytest.fixture
def client(celery_stack: CeleryStack) -> Iterator[TestClient]:
    with TestClient(_api(celery_stack)) as test_client:
        yield test_client


def _poll(http: Any, task_id: str, timeout: float = 30.0) -> httpx.Response:
    """GET the status until the task is SUCCESS or FAILURE (bounded)."""
    deadline = time.monotonic() + timeout
    response = http.get(f"/tasks/{task_id}")
    while response.json().get("status") not in ("SUCCESS", "FAILURE"):
        if time.monotonic() > deadline:
            break
        time.sleep(0.05)
        response = http.get(f"/tasks/{task_id}")
    return response


def test_a_posted_item_runs_in_the_worker_and_its_result_is_served(
    client: TestClient, celery_stack: CeleryStack
) -> None:
    response = client.post("/tasks/double", json=celery_stack.item("double", x=21))
    assert response.status_code == 202
    body = response.json()
    assert {"task_id", "status", "duplicate"} == set(body)
    assert body["status"] == "pending"
    uuid.UUID(body["task_id"])

    done = _poll(client, body["task_id"])
    assert done.status_code == 200
    location = done.json().pop("location")
    assert location["state"] == "done" and location["evidence"]["status"] == "SUCCESS"
    assert {k: v for k, v in done.json().items() if k != "location"} == {
        "task_id": body["task_id"],
        "status": "SUCCESS",
        "result": 42,
        "error": None,
        "attempts": 1,
    }


def test_the_result_is_absent_until_the_task_is_ready(
    client: TestClient, celery_stack: CeleryStack, wait_until: Callable[..., Any]
) -> None:
    task_id = client.post("/tasks/slow", json=celery_stack.item("slow", seconds=1.0)).json()[
        "task_id"
    ]
    early = client.get(f"/tasks/{task_id}")
    assert early.status_code == 200
    assert early.json()["status"] in ("PENDING", "STARTED")
    assert early.json()["result"] is None
    started = wait_until(lambda: client.get(f"/tasks/{task_id}").json()["status"] == "STARTED", 10)
    assert started, "the running task was never reported STARTED"
    assert _poll(client, task_id).json()["result"] == "done"


def test_a_failed_task_shows_its_exception_type_and_message_but_no_traceback(
    client: TestClient, celery_stack: CeleryStack
) -> None:
    task_id = client.post("/tasks/always_fails", json=celery_stack.item("always_fails")).json()[
        "task_id"
    ]
    response = _poll(client, task_id)
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "FAILURE"
    assert body["result"] is None
    assert body["error"] == {"type": "PaymentDeclined", "message": "card declined on attempt 3"}
    assert body["attempts"] == 3
    assert "Traceback" not in response.text
    assert "File " not in response.text


def test_an_unknown_task_name_answers_404_listing_the_known_names(
    client: TestClient, celery_stack: CeleryStack
) -> None:
    response = client.post("/tasks/process_vidoe_upload", json={"x": 1})
    assert response.status_code == 404
    detail = response.json()["detail"]
    assert "process_vidoe_upload" in detail["message"]
    assert detail["known_tasks"] == ["always_fails", "double", "flaky", "slow"]


def test_an_id_nobody_sent_answers_404_not_an_eternal_pending(client: TestClient) -> None:
    response = client.get(f"/tasks/{uuid.uuid4()}")
    assert response.status_code == 404
    assert "was sent" in response.json()["detail"]


def test_a_task_sent_with_delay_outside_the_api_is_known_to_the_status_api(
    client: TestClient, celery_stack: CeleryStack
) -> None:
    # HandlerTask.apply_async sets the sent marker: code rewritten to .delay() keeps working.
    result = celery_stack.module.tasks["slow"].delay(celery_stack.item("slow", seconds=0.3))
    response = client.get(f"/tasks/{result.id}")
    assert response.status_code == 200
    assert _poll(client, result.id).json()["status"] == "SUCCESS"


def test_the_routes_run_in_the_threadpool_not_on_the_event_loop() -> None:
    app = make_celery_app("routes", broker_url="memory://", result_backend="cache+memory://")
    router = make_router(app)
    endpoints = [route.endpoint for route in router.routes]  # type: ignore[attr-defined]
    assert len(endpoints) == 2
    assert not any(inspect.iscoroutinefunction(endpoint) for endpoint in endpoints)


@pytest.fixture
def uvicorn_server(celery_stack: CeleryStack, free_port: int) -> Iterator[str]:
    """The router served by uvicorn on a loopback port, stopped on teardown."""
    with serve(_api(celery_stack), free_port) as base_url:
        yield base_url


def test_the_router_served_by_uvicorn_over_http(
    uvicorn_server: str, celery_stack: CeleryStack
) -> None:
    with httpx.Client(base_url=uvicorn_server, timeout=10) as http:
        sent = http.post("/tasks/double", json=celery_stack.item("double", x=5))
        assert sent.status_code == 202
        task_id = sent.json()["task_id"]
        done = _poll(http, task_id)
        assert done.json()["status"] == "SUCCESS"
        assert done.json()["result"] == 10
        assert http.post("/tasks/nope", json={}).status_code == 404
        assert http.get(f"/tasks/{uuid.uuid4()}").status_code == 404
