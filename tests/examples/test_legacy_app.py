"""The example app works as the legacy app it stands for, over real HTTP."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import httpx


def _poll(read: Callable[[], Any], done: Callable[[Any], bool], timeout: float = 5.0) -> Any:
    deadline = time.monotonic() + timeout
    value = read()
    while not done(value) and time.monotonic() < deadline:
        time.sleep(0.02)
        value = read()
    return value


def _finished(api: httpx.Client, task_id: str) -> dict[str, Any]:
    return _poll(
        lambda: api.get(f"/tasks/{task_id}").json(),
        lambda body: body["status"] in ("SUCCESS", "FAILURE"),
    )


def test_an_upload_runs_its_handler_and_the_status_route_reads_the_dict(
    api: httpx.Client,
) -> None:
    response = api.post("/videos/v-http-1/upload", json={"path": "/uploads/v1.mov"})
    assert response.status_code == 202
    task_id = response.json()["task_id"]
    state = _finished(api, task_id)
    assert state["status"] == "SUCCESS"
    assert state["result"] == {"video_id": "v-http-1", "output": "/media/v-http-1.mp4"}
    status = api.get("/videos/v-http-1/status")
    assert status.status_code == 200
    assert status.json() == {"video_id": "v-http-1", "status": "done", "progress": 100}


def test_an_upload_without_a_file_is_retried_not_failed_at_once(api: httpx.Client) -> None:
    task_id = api.post("/videos/v-http-2/upload", json={}).json()["task_id"]
    state = _poll(
        lambda: api.get(f"/tasks/{task_id}").json(), lambda body: body["status"] == "RETRY"
    )
    # max_retries=3, retry_delay=60: the first failure waits a minute for its next attempt.
    assert state["status"] == "RETRY"
    assert state["attempts"] == 1
    assert api.get("/videos/v-http-2/status").json()["status"] == "failed"


def test_the_coordinates_tuple_finds_its_city_in_process(api: httpx.Client) -> None:
    body = {"place_id": "p-http", "lat": 39.9042, "lon": 116.4074}
    task_id = api.post("/locations", json=body).json()["task_id"]
    state = _finished(api, task_id)
    assert state["status"] == "SUCCESS"
    assert state["result"] == {"place_id": "p-http", "city": "北京"}


def test_thumbnails_take_the_largest_int_height_as_cover(api: httpx.Client) -> None:
    task_id = api.post("/videos/v-http-3/thumbnails").json()["task_id"]
    state = _finished(api, task_id)
    assert state["status"] == "SUCCESS"
    assert state["result"]["cover_height"] == 1080


def test_the_welcome_email_is_sent_by_background_tasks(api: httpx.Client) -> None:
    from fastapi_app.services.email import outbox

    assert api.post("/users/alice-http/welcome").status_code == 202
    sent = _poll(
        lambda: [m for m in outbox if m["to"] == "alice-http@example.com"], lambda found: found
    )
    assert sent == [{"to": "alice-http@example.com", "subject": "欢迎使用", "body": "注册成功"}]


def test_an_unknown_video_has_no_status(api: httpx.Client) -> None:
    assert api.get("/videos/nobody/status").status_code == 404
    assert api.get("/health").json() == {"status": "ok"}
