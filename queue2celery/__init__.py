"""queue2celery: move an in-memory task queue to Celery on Redis, safely and gradually."""

from __future__ import annotations

from ._embedded import embedded_redis, resolve_redis_url

__version__ = "0.1.0"

__all__ = ["__version__", "embedded_redis", "resolve_redis_url"]
