"""The worker side of periodic parity: the user's Celery app, with every run recorded.

Started as ``celery -A queue2celery.parity._periodic_probe:app worker``; the environment
names the user's app (``Q2C_PERIODIC_APP``) and the Redis list to record into
(``Q2C_PERIODIC_KEY``). Each run of the task under test (``Q2C_PERIODIC_TASK``) is recorded
with what the function received, its outcome, and when it started and ended.
"""

from __future__ import annotations

import json
import os
import time
from typing import Any

import redis
from celery.app.utils import find_app
from celery.signals import task_postrun, task_prerun

from ._periodic_record import describe_call, describe_outcome

app = find_app(os.environ["Q2C_PERIODIC_APP"])
_TASK = os.environ["Q2C_PERIODIC_TASK"]
_KEY = os.environ["Q2C_PERIODIC_KEY"]
_redis = redis.Redis.from_url(os.environ["Q2C_PERIODIC_REDIS"], socket_timeout=5)
_started: dict[str, tuple[float, dict[str, Any]]] = {}


def _tick_of(request: Any) -> Any:
    # Custom headers become request attributes (protocol 2), or stay in ``headers``.
    tick = getattr(request, "q2c_tick", None)
    if tick is None and isinstance(getattr(request, "headers", None), dict):
        tick = request.headers.get("q2c_tick")
    return tick


@task_prerun.connect
def _before(task_id: str, task: Any, args: Any = (), kwargs: Any = None, **_: Any) -> None:
    if task.name == _TASK:
        function = getattr(task, "q2c_function", None)
        _started[task_id] = (time.time(), describe_call(function, args, kwargs or {}))


@task_postrun.connect
def _after(task_id: str, task: Any, retval: Any = None, state: str = "", **_: Any) -> None:
    if task.name != _TASK or task_id not in _started:
        return
    started, call = _started.pop(task_id)
    record = {
        "tick": _tick_of(task.request),
        "start": started,
        "end": time.time(),
        "state": state,
        "call": call,
        **describe_outcome(state, retval),
    }
    _redis.rpush(_KEY, json.dumps(record))
