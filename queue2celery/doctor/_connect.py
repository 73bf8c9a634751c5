"""Reach the broker and the result backend with bounded waits, and say why when they fail.

A refused connection, an unknown host, a wrong password and a timeout need different fixes,
so they are told apart. No message ever carries the password.
"""

from __future__ import annotations

import socket
from dataclasses import dataclass
from urllib.parse import urlsplit

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from ..errors import redact_text, redact_url

__all__ = [
    "Failure",
    "classify_error",
    "first_url",
    "is_redis_url",
    "ping_url",
    "redis_client",
    "scrub",
]

_REDIS_SCHEMES = ("redis", "rediss", "redis+socket", "unix")
_ENV_HINT = "CELERY_BROKER_URL / CELERY_RESULT_BACKEND / REDIS_URL"


@dataclass(frozen=True)
class Failure:
    """Why a server did not answer, with the fix."""

    kind: str  # refused | unknown_host | auth | timeout | error
    detail: str
    fix: str


def first_url(value: object) -> str | None:
    """The first URL of a Celery URL setting (a string, a ';'-separated failover list, a list)."""
    if value is None:
        return None
    if isinstance(value, (list, tuple)):
        return first_url(value[0]) if value else None
    text = str(value).split(";")[0].strip()
    return text or None


def is_redis_url(url: str | None) -> bool:
    return bool(url) and urlsplit(str(url)).scheme in _REDIS_SCHEMES


def scrub(text: str, url: str | None) -> str:
    """``text`` with the URL's passwords (userinfo, query, failover parts; raw or URL-encoded)
    replaced by ``***``."""
    return redact_text(text, url) if url else text


def redis_client(url: str, timeout: float) -> redis.Redis:
    """A redis-py client that gives up after ``timeout`` seconds and never retries."""
    if url.startswith("redis+socket://"):
        url = "unix://" + url[len("redis+socket://") :]
    return redis.Redis.from_url(
        url,
        socket_connect_timeout=timeout,
        socket_timeout=timeout,
        retry=Retry(NoBackoff(), 0),
        retry_on_timeout=False,
    )


def ping_url(url: str, timeout: float, *, what: str) -> Failure | None:
    """PING the Redis at ``url``; None when it answered."""
    client = redis_client(url, timeout)
    try:
        client.ping()
    except Exception as exc:  # every failure becomes a diagnosis
        return classify_error(exc, url, what=what, timeout=timeout)
    finally:
        client.close()
    return None


def _chain(exc: BaseException) -> list[BaseException]:
    seen: list[BaseException] = []
    current: BaseException | None = exc
    while current is not None and current not in seen and len(seen) < 10:
        seen.append(current)
        current = current.__cause__ or current.__context__
    return seen


def _host(url: str) -> str:
    try:
        parts = urlsplit(url)
        return f"{parts.hostname}:{parts.port or 6379}"
    except ValueError:
        return "<unparseable URL>"


def classify_error(exc: BaseException, url: str, *, what: str, timeout: float) -> Failure:
    """Name the cause of ``exc`` (raised while talking to ``url``) and the fix."""
    shown = redact_url(url)
    chain = _chain(exc)
    text = " ".join(str(e) for e in chain).lower()
    auth_markers = ("wrongpass", "noauth", "invalid password", "username-password", "auth")
    if isinstance(exc, redis.AuthenticationError) or (
        isinstance(exc, redis.ResponseError) and any(m in text for m in auth_markers)
    ):
        has_password = redact_url(url) != url
        detail = (
            f"the {what} at {shown} rejected the password"
            if has_password
            else f"the {what} at {shown} requires a password and the URL has none"
        )
        return Failure(
            "auth",
            detail,
            f"put the server's password in the URL (redis://:PASSWORD@host:port/0) via {_ENV_HINT}",
        )
    if any(isinstance(e, ConnectionRefusedError) for e in chain) or "connection refused" in text:
        return Failure(
            "refused",
            f"connection refused at {_host(url)} ({shown}): nothing listens on that port",
            f"start Redis there (redis-server), or point {_ENV_HINT} at the right port",
        )
    if any(isinstance(e, socket.gaierror) for e in chain):
        host = urlsplit(url).hostname
        return Failure(
            "unknown_host",
            f"unknown host {host!r} in {shown}: the name does not resolve",
            f"fix the host name in {_ENV_HINT} (localhost or 127.0.0.1 for a local Redis)",
        )
    if any(isinstance(e, (redis.TimeoutError, TimeoutError, socket.timeout)) for e in chain):
        return Failure(
            "timeout",
            f"no answer from {_host(url)} ({shown}) within {timeout:g}s",
            "check the host and port, a firewall, or a Redis that is frozen or overloaded "
            "(redis-cli -h HOST -p PORT ping)",
        )
    message = scrub(f"{type(exc).__name__}: {exc}", url)
    return Failure(
        "error",
        f"the {what} at {shown} failed: {message}",
        f"check that {_ENV_HINT} points at a running Redis",
    )
