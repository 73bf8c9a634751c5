"""视频和地点的后台处理函数，worker_loop 按 job["type"] 在 HANDLERS 里找。"""

from __future__ import annotations

import time
from typing import Any

from fastapi_app.tasks.status_store import set_status

# 已知坐标 -> 城市名（按坐标元组查表）
CITY_BY_COORDS: dict[tuple[float, float], str] = {
    (39.9042, 116.4074): "北京",
    (31.2304, 121.4737): "上海",
    (22.5431, 114.0579): "深圳",
}


def process_video_upload(video_id: str, path: str | None = None) -> dict[str, Any]:
    """转码上传的视频。"""
    set_status(video_id, {"status": "processing", "progress": 0})
    if not path:
        set_status(video_id, {"status": "failed", "progress": 0})
        raise FileNotFoundError(f"video {video_id!r} has no uploaded file")
    time.sleep(0.01)  # 假装在转码
    set_status(video_id, {"status": "done", "progress": 100})
    return {"video_id": video_id, "output": f"/media/{video_id}.mp4"}


def generate_thumbnails(video_id: str, sizes: dict[str, str]) -> dict[str, Any]:
    """按高度生成缩略图，sizes 形如 {"720": "hd", "1080": "full_hd"}（JSON 的键只能是字符串）。"""
    files = [f"{video_id}_{label}.jpg" for label in sizes.values()]
    # 最大高度用来选封面图：按数字比，不按字符串比
    return {"video_id": video_id, "files": files, "cover_height": max(int(h) for h in sizes)}


def geocode_location(place_id: str, coords: list[float]) -> dict[str, Any]:
    """坐标转城市名，coords 是 [纬度, 经度]（JSON 里没有元组，查表前转回元组）。"""
    return {"place_id": place_id, "city": CITY_BY_COORDS.get(tuple(coords), "未知")}


# job["type"] -> 处理函数；新任务类型在这里登记
HANDLERS = {
    "process_video_upload": process_video_upload,
    "generate_thumbnails": generate_thumbnails,
    "geocode_location": geocode_location,
}
