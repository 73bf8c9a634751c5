"""One exception hierarchy for the whole toolkit.

Every message says what failed, shows the offending value with ``!r`` and says what
to do next. Redis URLs are always shown through :func:`redact_url`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

__all__ = [
    "BrokerUnavailable",
    "CodemodError",
    "ConfigError",
    "HarnessError",
    "PayloadError",
    "Queue2CeleryError",
    "WorkerStartError",
    "redact_text",
    "redact_url",
    "secrets_in",
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
    """Raised when the broker does not answer within the bounded wait.

    ``maybe_sent`` is True when a publish was written and its answer never came: the
    tasks ``task_ids`` may be queued. Sending them again with the same task ids is safe
    (a task id is published at most once).
    """

    def __init__(
        self, message: str, *, task_ids: Iterable[str] = (), maybe_sent: bool = False
    ) -> None:
        super().__init__(message)
        self.task_ids = tuple(task_ids)
        self.maybe_sent = maybe_sent


class CodemodError(Queue2CeleryError):
    """Raised when a codemod cannot transform a file (it is then skipped, never half-written)."""


class WorkerStartError(Queue2CeleryError):
    """Raised when a Celery worker process does not come up within its deadline."""


class HarnessError(Queue2CeleryError):
    """Raised when the parity harness itself cannot do its job (import, worker, Redis)."""


# A query parameter whose name says it holds a secret (redis-py reads ``password``,
# kombu/redis-py also ``sentinel_password``; ``ssl_password`` is the key file's).
_SECRET_PARAM = re.compile(r"(?i)([?&;][^=&;#]*(?:pass|secret|token)[^=&;#]*=)([^&;#]*)")
_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://")


def _redact_one(url: str) -> str:
    match = _SCHEME.match(url)
    if match is None:
        return _SECRET_PARAM.sub(r"\1***", url)
    start = match.end()
    # The authority ends at the first '/', '?' or '#' after the last '@' of the
    # userinfo; a raw password may itself hold '/', '?' or '#', so look for the '@' first.
    query_at = len(url)
    for sep in ("?", "#"):
        found = url.find(sep, start)
        if found != -1:
            query_at = min(query_at, found)
    at = url.rfind("@", start, query_at)
    if at == -1:
        at = url.rfind("@", start)
    head = url[:start]
    if at != -1:
        userinfo, rest = url[start:at], url[at:]
        if ":" in userinfo:
            user = userinfo.split(":", 1)[0]
            userinfo = f"{user}:***"
        elif "/" not in userinfo and "?" not in userinfo:
            # kombu reads ``redis://secret@host`` as a password (redis-py as a user name).
            userinfo = "***" if userinfo else ""
        url = head + userinfo + rest
    return _SECRET_PARAM.sub(r"\1***", url)


def redact_url(url: Any) -> str:
    """``url`` with every password replaced by ``***`` (safe for logs and errors).

    Covers the forms redis-py and kombu accept: ``user:password@`` userinfo (also
    ``rediss://``, ``unix://``, ``sentinel://``), a ``password=`` (or ``sentinel_password=``)
    query parameter, and failover lists (``redis://:a@h1;redis://:b@h2``, or a list).
    """
    if isinstance(url, (list, tuple)):
        return ";".join(redact_url(u) for u in url)
    if not url:
        return repr(url)
    return ";".join(_redact_one(part) for part in str(url).split(";"))


def _passwords_of(url: str) -> list[str]:
    found: list[str] = []
    for part in url.split(";"):
        shown = _redact_one(part)
        # Whatever the redaction took out of the URL is a secret.
        for piece in re.split(r"\*\*\*", shown):
            part = part.replace(piece, "\0", 1) if piece else part
        found += [s for s in part.split("\0") if s]
    return found


def secrets_in(*values: Any) -> list[str]:
    """Every password in URLs, lists of URLs and (nested) transport options.

    Mappings contribute the values of keys that name a secret (``password``,
    ``sentinel_kwargs={"password": ...}``); strings are read as URLs.
    """
    from urllib.parse import unquote

    found: list[str] = []
    for value in values:
        if isinstance(value, Mapping):
            for key, item in value.items():
                if isinstance(item, (Mapping, list, tuple)):
                    found += secrets_in(item)
                elif isinstance(item, str) and re.search(r"(?i)pass|secret|token", str(key)):
                    found.append(item)
                elif isinstance(item, str) and "://" in item:
                    found += secrets_in(item)
        elif isinstance(value, (list, tuple)):
            found += secrets_in(*value)
        elif isinstance(value, str) and value:
            found += _passwords_of(value)
    secrets = {s for s in found if len(s) >= 2}
    secrets |= {unquote(s) for s in secrets}
    return sorted(secrets, key=len, reverse=True)


def redact_text(text: str, *values: Any) -> str:
    """``text`` with every password of the URLs / options in ``values`` replaced by ``***``."""
    for secret in secrets_in(*values):
        text = text.replace(secret, "***")
    return text
