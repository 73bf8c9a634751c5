"""queue2celery: move an in-memory task queue to Celery on Redis, safely and gradually.

The root stays import-light: ``import queue2celery.migrate`` (or ``.errors``, or
``.legacy_queue``) must not load Redis clients or the embedded server, so those are served
on first use.
"""

from __future__ import annotations

from typing import Any

__version__ = "0.1.0"

__all__ = ["__version__", "embedded_redis", "resolve_redis_url"]


def __getattr__(name: str) -> Any:
    if name in ("embedded_redis", "resolve_redis_url"):
        from . import _embedded

        return getattr(_embedded, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
