"""任务状态放 Redis（迁移时加的）：API 进程和 Celery worker 进程读写的是同一份。

原来 handler 写模块里的字典、API 读同一个字典；handler 挪到 worker 进程之后，API
就再也看不到这些写入了（parity 报的 observed_state）。
"""

from __future__ import annotations

import json
import os
from typing import Any

import redis

_PREFIX = "legacy_app:status:"
_client = redis.Redis.from_url(
    os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0"),
    decode_responses=True,
    socket_timeout=5,
)


def set_status(key: str, value: dict[str, Any]) -> None:
    _client.set(_PREFIX + key, json.dumps(value, ensure_ascii=False), ex=7 * 24 * 3600)


def get_status(key: str) -> dict[str, Any] | None:
    raw = _client.get(_PREFIX + key)
    return None if raw is None else json.loads(raw)


def all_statuses() -> dict[str, Any]:
    keys = sorted(_client.scan_iter(match=_PREFIX + "*", count=1000))
    return {key[len(_PREFIX) :]: get_status(key[len(_PREFIX) :]) for key in keys}


def clear() -> None:
    keys = list(_client.scan_iter(match=_PREFIX + "*", count=1000))
    if keys:
        _client.delete(*keys)
