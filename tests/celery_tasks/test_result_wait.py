"""Waiting for a result with the lazy (subscribe-on-wait) Redis result backend."""

from __future__ import annotations

import json
import threading
import time
import uuid

import redis

from queue2celery.celery_tasks import make_celery_app


def test_a_result_whose_publish_was_missed_still_arrives_from_the_store(
    embedded_url: str,
) -> None:
    # The worker's PUBLISH can land before the waiter's SUBSCRIBE is processed (they use
    # different connections). Simulate exactly that: store the result without publishing.
    app = make_celery_app("q2c-result-wait", broker_url=embedded_url, result_backend=embedded_url)
    task_id = str(uuid.uuid4())
    meta = {
        "status": "SUCCESS",
        "result": 42,
        "traceback": None,
        "children": [],
        "date_done": None,
        "task_id": task_id,
    }
    client = redis.Redis.from_url(embedded_url)

    def store_silently() -> None:
        time.sleep(0.3)
        client.set(f"celery-task-meta-{task_id}", json.dumps(meta))

    writer = threading.Thread(target=store_silently)
    writer.start()
    started = time.monotonic()
    try:
        assert app.AsyncResult(task_id).get(timeout=10) == 42
    finally:
        writer.join(5)
        client.close()
        app.close()
    assert time.monotonic() - started < 3
