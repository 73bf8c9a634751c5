"""The Celery side: the app from the environment, handlers as tasks, status API, worker launcher."""

from __future__ import annotations

from ._process import WorkerProcess, start_worker, worker_process
from .app import DEFAULT_REDIS_URL, CeleryConfig, make_celery_app

__all__ = [
    "DEFAULT_REDIS_URL",
    "CeleryConfig",
    "WorkerProcess",
    "make_celery_app",
    "start_worker",
    "worker_process",
]
