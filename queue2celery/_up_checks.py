"""Readiness checks of ``queue2celery up``: Redis answers, a port is free, HTTP answers, who
holds beat's lock."""

from __future__ import annotations

import contextlib
import os
import socket
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from typing import Any

from .celery_tasks.app import DEFAULT_REDIS_URL
from .errors import ConfigError, redact_url

__all__ = ["EMBEDDED", "http_answers", "lock_note", "pings", "port_free", "redis_for"]

#: ``--redis-url embedded``: the embedded server even where a Redis answers.
EMBEDDED = "embedded"


def pings(url: str, timeout: float = 1.0) -> bool:
    import redis

    client = redis.Redis.from_url(url, socket_timeout=timeout, socket_connect_timeout=timeout)
    try:
        return bool(client.ping())
    except (redis.RedisError, OSError):
        return False
    finally:
        client.close()


@contextlib.contextmanager
def redis_for(redis_url: str | None, log: Callable[[str], None]) -> Iterator[tuple[str, str]]:
    """Yield (url, source): the URL the stack uses, and where it came from ("option", "env",
    "default" or "embedded")."""
    source = "option"
    explicit = redis_url if redis_url != EMBEDDED else None
    if redis_url is None and os.environ.get("REDIS_URL"):
        explicit, source = os.environ["REDIS_URL"], "env"
    if explicit:
        if not pings(explicit, timeout=5.0):
            raise ConfigError(
                f"Redis at {redact_url(explicit)} does not answer PING: start it, fix the URL, "
                "or leave --redis-url and REDIS_URL out to use the embedded server"
            )
        log(f"Redis at {redact_url(explicit)} answers PING")
        yield explicit, source
        return
    if redis_url is None and pings(DEFAULT_REDIS_URL):
        log(f"Redis at {DEFAULT_REDIS_URL} answers PING")
        yield DEFAULT_REDIS_URL, "default"
        return
    from ._embedded import embedded_redis

    with embedded_redis() as url:
        log(f"embedded Redis server at {url} answers PING")
        yield url, "embedded"


def port_free(host: str, port: int) -> bool:
    with socket.socket() as sock:
        try:
            sock.bind((host, port))
        except OSError:
            return False
    return True


def http_answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=1.0):
            return True
    except urllib.error.HTTPError:
        return True  # any status is an answer: the server is up
    except (urllib.error.URLError, OSError):
        return False


def lock_note(app: Any, url: str) -> str:
    """What beat waits for, when another beat (a killed earlier run) still holds the lock."""
    import redis

    from .celery_tasks._beat_scheduler import redbeat_key_prefix

    key = app.conf.get("redbeat_lock_key") or f"{redbeat_key_prefix(app)}:lock"
    client = redis.Redis.from_url(url, socket_timeout=2, socket_connect_timeout=2)
    try:
        ttl = client.pttl(key)
    except redis.RedisError:
        return ""
    finally:
        client.close()
    if ttl is None or ttl < 0:
        return ""
    return (
        f"beat waits for the scheduler lock {key!r}: another beat holds it (an earlier run "
        f"killed without stopping?); it expires in {ttl / 1000:.0f}s unless that beat is alive"
    )
