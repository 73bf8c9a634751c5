"""Celery's Redis result backend without the result subscription at send time."""

from __future__ import annotations

from typing import Any

from celery import Celery
from celery.backends.redis import RedisBackend

__all__ = ["LazyRedisBackend", "use_lazy_redis_backend"]

_PATH = f"{__name__}:LazyRedisBackend"


class LazyRedisBackend(RedisBackend):
    """Subscribes to a task's result channel only when someone waits for the result.

    Stock Celery SUBSCRIBEs to every task's channel as it is sent and only ``get()``
    unsubscribes: a web process that sends and never waits piles up subscriptions and
    unread messages (celery/celery#4707, #6963), and a frozen Redis at that moment
    breaks the result consumer until restart. ``get()`` / ``wait()`` still subscribe,
    and read the stored result first, so a result that came early is never missed.
    """

    def on_task_call(self, producer: Any, task_id: str) -> None:
        return None


def use_lazy_redis_backend(app: Celery) -> None:
    """Make ``redis://`` and ``rediss://`` result backends of ``app`` lazy (per app)."""
    loader = app.loader
    loader.override_backends = {
        **getattr(loader, "override_backends", {}),
        "redis": _PATH,
        "rediss": _PATH,
    }
