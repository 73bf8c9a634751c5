"""任务队列：进程内的 TaskQueue，两个工作线程处理上传、缩略图和地理编码。

This is the "before" of the migration, written the way such apps usually are: one
module-level queue, handlers that share the process's memory with the API.
"""

from __future__ import annotations

import time
from typing import Any

from queue2celery.legacy_queue import TaskQueue

# 视频处理状态，API 的 /videos/{id}/status 直接读这个字典。
# (The classic trap: once handlers run in a Celery worker process, the API never sees
# what they write here.)
task_status: dict[str, dict[str, Any]] = {}

# 已知坐标 -> 城市名（按坐标元组查表）
CITY_BY_COORDS: dict[tuple[float, float], str] = {
    (39.9042, 116.4074): "北京",
    (31.2304, 121.4737): "上海",
    (22.5431, 114.0579): "深圳",
}


def _route(item: dict[str, Any]) -> str:
    # 每个任务都带 "task" 字段，用它选 handler
    return str(item["task"])


task_queue = TaskQueue(workers=2, route=_route)


@task_queue.handler("process_video_upload", max_retries=3, retry_delay=60)
def process_video_upload(item: dict[str, Any]) -> dict[str, Any]:
    """转码上传的视频；失败时重试（最多 3 次，间隔 60 秒）。"""
    video_id = item["video_id"]
    task_status[video_id] = {"status": "processing", "progress": 0}
    if not item.get("path"):
        task_status[video_id] = {"status": "failed", "progress": 0}
        raise FileNotFoundError(f"video {video_id!r} has no uploaded file")
    time.sleep(0.01)  # 假装在转码
    task_status[video_id] = {"status": "done", "progress": 100}
    return {"video_id": video_id, "output": f"/media/{video_id}.mp4"}


@task_queue.handler("generate_thumbnails")
def generate_thumbnails(item: dict[str, Any]) -> dict[str, Any]:
    """按高度生成缩略图，sizes 形如 {720: "hd", 1080: "full_hd"}。"""
    sizes: dict[int, str] = item["sizes"]
    video_id = item["video_id"]
    files = [f"{video_id}_{label}.jpg" for label in sizes.values()]
    # 最大高度用来选封面图
    return {"video_id": video_id, "files": files, "cover_height": max(sizes)}


@task_queue.handler("geocode_location")
def geocode_location(item: dict[str, Any]) -> dict[str, Any]:
    """坐标转城市名，coords 是 (纬度, 经度) 元组。"""
    coords = item["coords"]
    city = CITY_BY_COORDS.get(coords, "未知")
    return {"place_id": item["place_id"], "city": city}
