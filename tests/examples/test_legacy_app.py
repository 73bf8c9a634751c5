"""The example app works as the legacy app it stands for, over real HTTP, before any step."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

import queue2celery

EXAMPLE = Path(queue2celery.__file__).resolve().parent / "examples" / "legacy_app"


def _poll(read: Callable[[], Any], done: Callable[[Any], bool], timeout: float = 10.0) -> Any:
    deadline = time.monotonic() + timeout
    value = read()
    while not done(value) and time.monotonic() < deadline:
        time.sleep(0.02)
        value = read()
    return value


def test_the_before_state_imports_nothing_from_queue2celery() -> None:
    sources = [p for p in EXAMPLE.rglob("*.py") if not p.name.startswith("parity_")]
    assert sources
    for path in sources:
        assert "queue2celery" not in path.read_text(encoding="utf-8"), path


def test_uploads_run_on_the_apps_own_threads_and_the_status_route_reads_the_dict(
    example_at: Callable[..., Path], serve: Callable[..., httpx.Client]
) -> None:
    api = serve(example_at())
    assert api.post("/videos/v-http-1/upload", json={"path": "/up/v1.mov"}).status_code == 202
    body = _poll(
        lambda: api.get("/videos/v-http-1/status").json(), lambda b: b.get("status") == "done"
    )
    assert body == {"video_id": "v-http-1", "status": "done", "progress": 100}
    # The loop retries a failed job itself (3 attempts) and the handler records the failure.
    api.post("/videos/v-http-2/upload", json={})
    failed = _poll(
        lambda: api.get("/videos/v-http-2/status").json(), lambda b: b.get("status") == "failed"
    )
    assert failed["status"] == "failed"


def test_the_manager_runs_its_async_handlers_on_an_object_payload_by_priority(
    example_at: Callable[..., Path], serve: Callable[..., httpx.Client]
) -> None:
    api = serve(example_at())
    task_id = api.post("/reports/export", json={"user_id": 7, "month": "2024-05"}).json()["task_id"]
    body = _poll(lambda: api.get(f"/reports/{task_id}").json(), lambda b: b["status"] == "done")
    assert body["result"] == {
        "file": "/exports/7-2024-05.csv",
        "rows": 1,
        "columns": ["date", "amount"],
    }


def test_shutdown_puts_the_sentinel_and_the_threads_stop(
    example_at: Callable[..., Path], serve: Callable[..., httpx.Client]
) -> None:
    api = serve(example_at())
    assert api.get("/health").json() == {"status": "ok"}
    import fastapi_app.tasks.worker as worker  # type: ignore[import-not-found]

    threads = list(worker._threads)
    assert len(threads) == 2 and all(t.is_alive() for t in threads)
    worker.stop_workers()
    assert not any(t.is_alive() for t in threads)


def test_the_welcome_email_is_sent_by_background_tasks(
    example_at: Callable[..., Path], serve: Callable[..., httpx.Client]
) -> None:
    api = serve(example_at())
    from fastapi_app.services.email import outbox  # type: ignore[import-not-found]

    assert api.post("/users/alice-http/welcome").status_code == 202
    sent = _poll(
        lambda: [m for m in outbox if m["to"] == "alice-http@example.com"], lambda found: found
    )
    assert sent == [{"to": "alice-http@example.com", "subject": "欢迎使用", "body": "注册成功"}]
    assert api.get("/videos/nobody/status").status_code == 404
