"""视频上传、缩略图和处理状态。"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, HTTPException
from pydantic import BaseModel

from fastapi_app.tasks.status_store import get_status
from fastapi_app.tasks.worker import task_queue

router = APIRouter(prefix="/videos", tags=["videos"])


class Upload(BaseModel):
    path: str | None = None


@router.post("/{video_id}/upload", status_code=202)
def upload_video(video_id: str, upload: Upload) -> dict[str, Any]:
    # 放进队列就返回，前端轮询 /status
    task_queue.put(
        {"type": "process_video_upload", "payload": {"video_id": video_id, "path": upload.path}}
    )
    return {"video_id": video_id, "queued": True}


@router.post("/{video_id}/thumbnails", status_code=202)
def make_thumbnails(video_id: str) -> dict[str, Any]:
    task_queue.put(
        {
            "type": "generate_thumbnails",
            "payload": {"video_id": video_id, "sizes": {"720": "hd", "1080": "full_hd"}},
        }
    )
    return {"video_id": video_id, "queued": True}


@router.get("/{video_id}/status")
def video_status(video_id: str) -> dict[str, Any]:
    # handler 在哪个进程跑都一样：状态在 Redis 里
    status = get_status(video_id)
    if status is None:
        raise HTTPException(status_code=404, detail=f"no video {video_id!r}")
    return {"video_id": video_id, **status}
