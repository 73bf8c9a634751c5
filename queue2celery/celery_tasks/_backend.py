"""Celery's Redis result backend without the result subscription at send time."""

from __future__ import annotations

import time
import weakref
from typing import Any

from celery import Celery
from celery.backends.redis import RedisBackend, ResultConsumer

__all__ = ["LazyRedisBackend", "use_lazy_redis_backend"]

_PATH = f"{__name__}:LazyRedisBackend"


class _RecheckingResultConsumer(ResultConsumer):
    """Also re-reads the stored result of what is being waited for, once a second.

    Subscribing only at ``get()`` opens a window: the SUBSCRIBE (one connection) may reach
    the server after the first GET of the stored result (another connection) and after
    the worker's SET + PUBLISH in between, so the message is missed and the stored result
    was not there yet. A periodic GET closes it; it costs one read a second per waiter.
    """

    RECHECK_SECONDS = 1.0

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._waited: weakref.WeakValueDictionary[str, Any] = weakref.WeakValueDictionary()
        self._next_recheck = 0.0

    def on_wait_for_pending(self, result: Any, **kwargs: Any) -> None:
        self._waited[result.id] = result
        self._next_recheck = time.monotonic() + self.RECHECK_SECONDS
        super().on_wait_for_pending(result, **kwargs)

    def drain_events(self, timeout: float | None = None) -> None:
        super().drain_events(timeout=timeout)
        now = time.monotonic()
        if not self._waited or now < self._next_recheck:
            return
        self._next_recheck = now + self.RECHECK_SECONDS
        for task_id, result in list(self._waited.items()):
            if result.on_ready.ready:
                self._waited.pop(task_id, None)
            else:
                super().on_wait_for_pending(result)


class LazyRedisBackend(RedisBackend):
    """Subscribes to a task's result channel only when someone waits for the result.

    Stock Celery SUBSCRIBEs to every task's channel as it is sent and only ``get()``
    unsubscribes: a web process that sends and never waits piles up subscriptions and
    unread messages (celery/celery#4707, #6963), and a frozen Redis at that moment
    breaks the result consumer until restart. ``get()`` / ``wait()`` still subscribe,
    and read the stored result first (and again every second while waiting), so a result
    that came early is never missed.
    """

    ResultConsumer = _RecheckingResultConsumer

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
