"""Parity workload for the plain queue: the same puts on the app's threads' share and on Celery.

    queue2celery parity parity_workload.py

It needs step 2 of the guide (task_queue adopted in fastapi_app/tasks/worker.py).
"""

from __future__ import annotations

from typing import Any

from fastapi_app.tasks import status_store
from fastapi_app.tasks.worker import task_queue

__all__ = ["observe", "task_queue", "workload"]


def workload(q: Any) -> None:
    # 每个后端都从一个新启动的 API 进程的状态开始
    status_store.clear()
    q.put({"type": "process_video_upload", "payload": {"video_id": "v1", "path": "/up/v1.mov"}})
    q.put({"type": "process_video_upload", "payload": {"video_id": "v2", "path": None}})
    q.put(
        {
            "type": "generate_thumbnails",
            "payload": {"video_id": "v1", "sizes": {"720": "hd", "1080": "full_hd"}},
        }
    )
    q.put(
        {"type": "geocode_location", "payload": {"place_id": "p1", "coords": [39.9042, 116.4074]}}
    )


def observe() -> dict[str, Any]:
    """What GET /videos/{id}/status would answer in the API process."""
    return {"task_status": status_store.all_statuses()}
