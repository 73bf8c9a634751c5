"""``doctor --task ID``: where one task is, in exactly one state, with its evidence."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import redis
from celery import Celery
from kombu.exceptions import OperationalError

from ..celery_tasks.locate import Location, locate_task
from ..errors import BrokerUnavailable, redact_url
from ._run import load_app

__all__ = ["ACTION_STATES", "default_spool_paths", "locate"]

# States that need someone to act: doctor --task exits 1 for them.
ACTION_STATES = frozenset({"lost", "unrouted", "unregistered", "never_sent"})


def default_spool_paths(environ: dict[str, str] | None = None) -> list[Path]:
    """The spool CompatQueue would use here (``Q2C_SPOOL_PATH``, else its default)."""
    env = os.environ if environ is None else environ
    return [Path(env.get("Q2C_SPOOL_PATH") or "./.q2c-spool.sqlite3")]


def _app(app: Celery | str | None) -> Celery:
    if isinstance(app, Celery):
        return app
    if app:
        return load_app(app)
    from ..celery_tasks import make_celery_app

    return make_celery_app("queue2celery-doctor")


def locate(
    app: Celery | str | None,
    task_id: str,
    *,
    timeout: float = 2.0,
    spool_paths: Sequence[Path] | None = None,
) -> Location:
    """Locate ``task_id``; raises BrokerUnavailable (URL redacted) when Redis does not answer."""
    loaded = _app(app)
    paths = default_spool_paths() if spool_paths is None else list(spool_paths)
    try:
        return locate_task(loaded, task_id, timeout=timeout, spool_paths=paths)
    except (redis.RedisError, OperationalError, ConnectionError, TimeoutError) as exc:
        raise BrokerUnavailable(
            f"cannot locate task {task_id!r}: Redis ({redact_url(loaded.conf.broker_url)}) did "
            f"not answer ({type(exc).__name__}); start it, or point -A / REDIS_URL at it"
        ) from exc
