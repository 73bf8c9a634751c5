"""Parity workload for the example: the same puts on the in-memory queue and on Celery.

    queue2celery parity examples/legacy_app/parity_workload.py

What it shows (true hazards of this app, not staged ones):
- geocode_location: the coordinates tuple arrives as a list, and the dict lookup keyed by
  tuples fails (arg_drift, then a different status);
- generate_thumbnails: {720: ..., 1080: ...} arrives with string keys, so max() picks "720"
  (arg_drift, result);
- process_video_upload: the status dict the API reads is written in the worker's memory, not
  the API's (observed_state); a missing file is retried 3 times, 4 attempts, on both sides.
"""

from __future__ import annotations

from typing import Any

from fastapi_app.tasks.queue import task_queue, task_status

__all__ = ["observe", "task_queue", "workload"]


def workload(q: Any) -> None:
    # Each backend starts from what a fresh API process would have.
    task_status.clear()
    q.put({"task": "process_video_upload", "video_id": "v1", "path": "/uploads/v1.mov"})
    q.put({"task": "process_video_upload", "video_id": "v2", "path": None})
    q.put({"task": "generate_thumbnails", "video_id": "v1", "sizes": {720: "hd", 1080: "full_hd"}})
    q.put({"task": "geocode_location", "place_id": "p1", "coords": (39.9042, 116.4074)})


def observe() -> dict[str, Any]:
    """What GET /videos/{id}/status would answer in the API process."""
    return {"task_status": dict(task_status)}
