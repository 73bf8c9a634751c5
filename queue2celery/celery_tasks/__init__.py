"""The Celery side: the app from the environment, handlers as tasks, status, FastAPI router,
worker launcher.

Only the user API is exported here; the plumbing (sent markers, worker argv, visibility
timeout) is imported from its submodule by the toolkit's own callers.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ._loop import resolve as resolve_awaitable
from ._process import WorkerProcess, start_worker
from .app import DEFAULT_REDIS_URL, CeleryConfig, make_celery_app
from .status import celery_status
from .tasks import HandlerTask, register_handler, register_handlers
from .worker import run_worker

if TYPE_CHECKING:
    from .router import make_router

__all__ = [
    "DEFAULT_REDIS_URL",
    "CeleryConfig",
    "HandlerTask",
    "WorkerProcess",
    "celery_status",
    "make_celery_app",
    "make_router",
    "register_handler",
    "register_handlers",
    "resolve_awaitable",
    "run_worker",
    "start_worker",
]


def __getattr__(name: str) -> Any:
    # FastAPI is imported only by whoever builds the router, not by every worker process.
    if name == "make_router":
        from .router import make_router

        return make_router
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
