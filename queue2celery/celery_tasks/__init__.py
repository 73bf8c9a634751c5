"""The Celery side: the app from the environment, handlers as tasks, status, FastAPI router,
worker launcher."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ._process import WorkerProcess, start_worker
from .app import (
    DEFAULT_REDIS_URL,
    DEFAULT_VISIBILITY_TIMEOUT,
    CeleryConfig,
    ensure_visibility_timeout,
    make_celery_app,
)
from .status import (
    DEFAULT_SENT_TTL,
    SENT_KEY_PREFIX,
    celery_status,
    mark_app_sent,
    mark_sent,
    sent_client,
    sent_key,
    sent_ttl,
    was_sent,
)
from .tasks import HandlerTask, handler_task_names, register_handler, register_handlers
from .worker import celery_command, run_worker, split_app_option, user_chose_pool, worker_argv

if TYPE_CHECKING:
    from .router import make_router

__all__ = [
    "DEFAULT_REDIS_URL",
    "DEFAULT_SENT_TTL",
    "DEFAULT_VISIBILITY_TIMEOUT",
    "SENT_KEY_PREFIX",
    "CeleryConfig",
    "HandlerTask",
    "WorkerProcess",
    "celery_command",
    "celery_status",
    "ensure_visibility_timeout",
    "handler_task_names",
    "make_celery_app",
    "make_router",
    "mark_app_sent",
    "mark_sent",
    "register_handler",
    "register_handlers",
    "run_worker",
    "sent_client",
    "sent_key",
    "sent_ttl",
    "split_app_option",
    "start_worker",
    "user_chose_pool",
    "was_sent",
    "worker_argv",
]


def __getattr__(name: str) -> Any:
    # FastAPI is imported only by whoever builds the router, not by every worker process.
    if name == "make_router":
        from .router import make_router

        return make_router
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
