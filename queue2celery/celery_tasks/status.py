"""Task status in the common vocabulary, and the marker that tells "sent" from "unknown".

Celery reports PENDING both for a task nobody picked up yet and for an id nobody ever
sent. Every sender therefore SETs ``q2c:sent:<task_id>`` (value: the send time; TTL: twice
the result expiry, see :func:`marker_ttl`) next to the result itself, so a status API can
answer 404 for ids that were never sent. Keys carry the server's ``global_keyprefix``.
"""

from __future__ import annotations

import logging
import time
from datetime import timedelta
from typing import Any, Protocol

from celery import Celery, states
from celery.backends.base import BaseKeyValueStoreBackend

from ..errors import ConfigError

__all__ = [
    "DEFAULT_SENT_TTL",
    "SENT_KEY_PREFIX",
    "backend_key_prefix",
    "broker_key_prefix",
    "celery_status",
    "mark_app_sent",
    "mark_sent",
    "marker_ttl",
    "raw_meta",
    "sent_client",
    "sent_key",
    "sent_ttl",
    "was_sent",
]

SENT_KEY_PREFIX = "q2c:sent:"
# Celery's own default result expiry: the marker lives as long as the result would.
DEFAULT_SENT_TTL = 86_400

log = logging.getLogger(__name__)

# Celery states outside the common five, mapped to the nearest one.
_STATE_MAP = {
    states.RECEIVED: "PENDING",
    states.REVOKED: "FAILURE",
    states.REJECTED: "FAILURE",
    states.IGNORED: "SUCCESS",
}


class _Setter(Protocol):
    def set(self, name: str, value: str, ex: int | None = ...) -> Any: ...


class _Getter(Protocol):
    def exists(self, *names: str) -> Any: ...


def sent_key(task_id: str, prefix: str = "") -> str:
    """The Redis key marking ``task_id`` as sent (``prefix``: the server's global_keyprefix)."""
    return f"{prefix}{SENT_KEY_PREFIX}{task_id}"


def broker_key_prefix(app: Celery) -> str:
    """What kombu puts before every broker key (``broker_transport_options.global_keyprefix``)."""
    options = app.conf.broker_transport_options or {}
    return str(options.get("global_keyprefix") or "")


def backend_key_prefix(app: Celery) -> str:
    """What Celery puts before every result key, normalized as Celery does (a ``_`` added)."""
    options = app.conf.result_backend_transport_options or {}
    prefix = str(options.get("global_keyprefix") or "")
    if prefix and prefix[-1] not in ":_-.":
        prefix += "_"
    return prefix


def sent_ttl(app: Celery) -> int:
    """Seconds a marker lives: the app's ``result_expires``, else one day."""
    expires = app.conf.result_expires
    if isinstance(expires, timedelta):
        seconds = int(expires.total_seconds())
    elif isinstance(expires, (int, float)):
        seconds = int(expires)
    else:
        seconds = 0
    return seconds if seconds > 0 else DEFAULT_SENT_TTL


def marker_ttl(app: Celery) -> int:
    """Seconds a sent marker lives: twice the result expiry.

    The marker outlives the result, so an id whose result expired is told apart from an id
    nobody sent (``doctor --task``); its value is the send time (Unix seconds).
    """
    return 2 * sent_ttl(app)


def mark_sent(
    client_or_pipeline: _Setter, task_id: str, ttl: int = DEFAULT_SENT_TTL, prefix: str = ""
) -> None:
    """SET the sent marker; works on a client or inside a caller's pipeline."""
    client_or_pipeline.set(sent_key(task_id, prefix), str(int(time.time())), ex=ttl)


def was_sent(client: _Getter, task_id: str, prefix: str = "") -> bool:
    """True when some sender marked ``task_id`` (and the marker has not expired)."""
    return bool(client.exists(sent_key(task_id, prefix)))


def sent_client(app: Celery) -> Any:
    """The redis-py client of the app's result backend (where markers live).

    Raises ConfigError when the result backend is not Redis.
    """
    client = getattr(app.backend, "client", None)
    if client is None or not hasattr(client, "exists"):
        raise ConfigError(
            f"the sent marker needs a Redis result backend, got "
            f"{type(app.backend).__name__!r}: set CELERY_RESULT_BACKEND (or REDIS_URL) to a "
            "redis:// URL"
        )
    return client


def mark_app_sent(app: Celery, task_id: str) -> bool:
    """Best-effort marker for a task already published through ``app``; False if not set.

    The message is out already: raising now would make the caller send it twice.
    Without the marker the status API answers 404 until the task starts.
    """
    try:
        mark_sent(sent_client(app), task_id, ttl=marker_ttl(app), prefix=backend_key_prefix(app))
    except Exception as exc:  # any Redis or config error: logged, not raised
        log.warning("task %s was sent but its sent marker could not be set: %r", task_id, exc)
        return False
    return True


def raw_meta(app: Celery, task_id: str) -> dict[str, Any]:
    backend = app.backend
    if isinstance(backend, BaseKeyValueStoreBackend):
        # The stored dict as is: the exception's type and arguments, without re-creating
        # the exception class in this process.
        payload = backend.get(backend.get_key_for_task(task_id))
        if not payload:
            return {"status": states.PENDING, "result": None}
        meta: dict[str, Any] = backend.decode(payload)
        return meta
    return dict(backend.get_task_meta(task_id))


def _message(args: Any) -> str:
    # What str(exc) says for an exception built from ``args``.
    if isinstance(args, (list, tuple)):
        if not args:
            return ""
        if len(args) == 1:
            return str(args[0])
        return str(tuple(args))
    return "" if args is None else str(args)


def _error(app: Celery, result: Any) -> dict[str, str]:
    if isinstance(result, BaseException):
        return {"type": type(result).__name__, "message": str(result)}
    if isinstance(result, dict) and "exc_type" in result:
        exc_type = str(result["exc_type"]).rsplit(".", 1)[-1]
        return {"type": exc_type, "message": _exc_message(app, result, exc_type)}
    return {"type": "Exception", "message": _message(result)}


def _exc_message(app: Celery, stored: dict[str, Any], exc_type: str) -> str:
    # str() of the real exception where its class is already loaded here (KeyError quotes
    # its key, OSError adds its errno, user classes may define __str__); Celery looks the
    # class up in sys.modules and never imports a module named in Redis.
    try:
        exc = app.backend.exception_to_python(stored)
    except Exception:  # an unknown or odd class: fall back to the args
        exc = None
    if exc is not None and type(exc).__name__ == exc_type:
        return str(exc)
    return _message(stored.get("exc_message"))


def celery_status(app: Celery, task_id: str) -> dict[str, Any]:
    """The status dict (task_id, status, result, error, attempts) of a Celery task.

    An id nobody sent also reads PENDING here; use :func:`was_sent` to tell them apart.
    Redis errors propagate (bounded by the app's socket timeouts).
    """
    meta = raw_meta(app, task_id)
    raw_state = meta.get("status") or states.PENDING
    status = _STATE_MAP.get(raw_state, raw_state)
    if status not in ("PENDING", "STARTED", "RETRY", "SUCCESS", "FAILURE"):
        status = "PENDING"
    result = meta.get("result")
    retries = meta.get("retries")
    if isinstance(retries, int):
        attempts = retries + 1
    else:
        attempts = 0 if status == "PENDING" else 1
    error = None
    if raw_state in states.EXCEPTION_STATES or status in ("FAILURE", "RETRY"):
        error = _error(app, result)
    return {
        "task_id": task_id,
        "status": status,
        "result": result if status == "SUCCESS" else None,
        "error": error,
        "attempts": attempts,
    }
