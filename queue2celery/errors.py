"""One exception hierarchy for the whole toolkit.

Every message says what failed, shows the offending value with ``!r`` and says what
to do next. Redis URLs are always shown through :func:`redact_url`.
"""

from __future__ import annotations

from urllib.parse import urlsplit, urlunsplit

__all__ = [
    "BrokerUnavailable",
    "CodemodError",
    "ConfigError",
    "HarnessError",
    "PayloadError",
    "Queue2CeleryError",
    "WorkerStartError",
    "redact_url",
]


class Queue2CeleryError(Exception):
    """Raised for every failure the toolkit itself reports; the base of all others."""


class ConfigError(Queue2CeleryError):
    """Raised when configuration (env vars, pyproject tables, CLI options) is invalid."""


class PayloadError(Queue2CeleryError, TypeError):
    """Raised when a payload cannot travel through Celery's serializer unchanged."""

    def __init__(self, message: str, *, path: str = "payload") -> None:
        super().__init__(message)
        self.path = path


class BrokerUnavailable(Queue2CeleryError, ConnectionError):
    """Raised when the broker does not answer within the bounded wait."""


class CodemodError(Queue2CeleryError):
    """Raised when a codemod cannot transform a file (it is then skipped, never half-written)."""


class WorkerStartError(Queue2CeleryError):
    """Raised when a Celery worker process does not come up within its deadline."""


class HarnessError(Queue2CeleryError):
    """Raised when the parity harness itself cannot do its job (import, worker, Redis)."""


def redact_url(url: str | None) -> str:
    """Return ``url`` with any password replaced by ``***`` (safe for logs and errors)."""
    if not url:
        return repr(url)
    try:
        parts = urlsplit(url)
    except ValueError:
        return "<unparseable URL>"
    if parts.password is None:
        return url
    user = parts.username or ""
    host = parts.hostname or ""
    if parts.port is not None:
        host = f"{host}:{parts.port}"
    netloc = f"{user}:***@{host}"
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))
