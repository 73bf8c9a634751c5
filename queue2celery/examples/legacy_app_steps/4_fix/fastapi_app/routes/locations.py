"""地点：把坐标交给后台做地理编码。"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel

from fastapi_app.tasks.worker import task_queue

router = APIRouter(prefix="/locations", tags=["locations"])


class Place(BaseModel):
    place_id: str
    lat: float
    lon: float


@router.post("", status_code=202)
def add_location(place: Place) -> dict[str, Any]:
    # 坐标用 [纬度, 经度] 列表传给 handler（JSON 没有元组）
    task_queue.put(
        {
            "type": "geocode_location",
            "payload": {"place_id": place.place_id, "coords": [place.lat, place.lon]},
        }
    )
    return {"place_id": place.place_id, "queued": True}
