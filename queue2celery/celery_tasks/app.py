"""The Celery app, configured the way the reference application documents it."""

from __future__ import annotations

import math
import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from celery import Celery

from ._backend import use_lazy_redis_backend

__all__ = [
    "DEFAULT_LEASE_TIMEOUT",
    "DEFAULT_REDIS_URL",
    "LEASED_TRANSPORT",
    "DEFAULT_VISIBILITY_TIMEOUT",
    "SOCKET_TIMEOUT",
    "VISIBILITY_MARGIN",
    "CeleryConfig",
    "ensure_visibility_timeout",
    "make_celery_app",
]

DEFAULT_REDIS_URL = "redis://localhost:6379/0"

# Seconds a socket operation on the broker or backend may take: a frozen Redis raises
# instead of hanging a web request or a worker forever.
SOCKET_TIMEOUT = 5.0
# Redis re-delivers an unacked message after this long. A message with a countdown or ETA
# (a retry is a new such message) stays unacked until it runs, acks_late or not, so this
# must exceed the longest retry delay; with acks_late it must also exceed the longest task
# runtime, or a long task is delivered again while it still runs (celery#5935).
DEFAULT_VISIBILITY_TIMEOUT = 3600
# Room left, above a retry delay, for the retried task itself to run before Redis
# would hand its still-unacked message to another worker.
VISIBILITY_MARGIN = 600
# Seconds a worker may stay silent (killed, frozen, cut off) before the messages it took
# are delivered again; a live worker renews them however long its tasks run.
DEFAULT_LEASE_TIMEOUT = 30.0
# kombu's Redis transport with an atomic fetch and leases (see _transport.py), selected
# for redis:// and rediss:// brokers.
LEASED_TRANSPORT = "queue2celery.celery_tasks._transport:Transport"
# Settings whose dict values are merged with ours instead of replacing them, so a
# caller adding one transport option keeps the socket timeouts.
_MERGED_SETTINGS = ("broker_transport_options", "result_backend_transport_options")


@dataclass(frozen=True)
class CeleryConfig:
    """Where Celery's broker and result backend live."""

    broker_url: str
    result_backend: str

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> CeleryConfig:
        """``REDIS_URL`` (default ``redis://localhost:6379/0``); both Celery URLs default to it."""
        env = os.environ if environ is None else environ
        redis_url = env.get("REDIS_URL") or DEFAULT_REDIS_URL
        return cls(
            broker_url=env.get("CELERY_BROKER_URL") or redis_url,
            result_backend=env.get("CELERY_RESULT_BACKEND") or redis_url,
        )


def make_celery_app(
    name: str = "queue2celery",
    *,
    broker_url: str | None = None,
    result_backend: str | None = None,
    **overrides: Any,
) -> Celery:
    """A Celery app with JSON-only, reliability-first defaults; ``overrides`` win over all.

    URLs: the explicit arguments, else ``CELERY_BROKER_URL`` / ``CELERY_RESULT_BACKEND``,
    else ``REDIS_URL``, else ``redis://localhost:6379/0``. Dict settings given in
    ``overrides`` (transport options) are merged into the defaults key by key.
    """
    env_config = CeleryConfig.from_env()
    broker = broker_url or env_config.broker_url
    backend = result_backend or env_config.result_backend
    # Celery itself lets CELERY_RESULT_BACKEND beat the configured backend; an explicit
    # ``result_backend`` argument must win (the parity harness points apps at its server).
    explicit_backend = bool(result_backend) and result_backend != os.environ.get(
        "CELERY_RESULT_BACKEND", result_backend
    )
    app = Celery(name)
    # Sending does not subscribe to the result channel: fire-and-forget web processes
    # would pile up subscriptions (see _backend.py); waiting still subscribes.
    use_lazy_redis_backend(app)
    if explicit_backend:
        # Celery builds its backend from ``backend_cls`` before looking at the env.
        app.backend_cls = backend
    settings: dict[str, Any] = {
        "broker_url": broker,
        "result_backend": backend,
        # JSON only: a pickled message from anyone who can reach Redis would run code.
        "task_serializer": "json",
        "result_serializer": "json",
        "accept_content": ["json"],
        "result_accept_content": ["json"],
        # Ack after the task ran: a worker stopped mid-task hands it back (a warm shutdown at
        # once, a SIGKILLed worker only after the visibility timeout)...
        "task_acks_late": True,
        # ...and a task whose worker process died is re-queued rather than failed.
        "task_reject_on_worker_lost": True,
        # Take one message at a time: long tasks do not sit reserved behind each other.
        "worker_prefetch_multiplier": 1,
        # A worker started before Redis (Electron start order) keeps trying instead of exiting,
        # however long Redis takes: Celery's default gives up after 100 tries (~45 min).
        "broker_connection_retry_on_startup": True,
        "broker_connection_max_retries": None,
        # Store name, args and retries with the result: the status API counts attempts.
        "result_extended": True,
        # Report STARTED, so a running task is told apart from one nobody picked up.
        "task_track_started": True,
        # Bounded socket waits on the result backend (a frozen Redis must raise, not hang).
        "redis_socket_timeout": SOCKET_TIMEOUT,
        "redis_socket_connect_timeout": SOCKET_TIMEOUT,
        # The same bound on the broker, and a visibility timeout above any retry delay.
        "broker_transport_options": {
            "socket_timeout": SOCKET_TIMEOUT,
            "socket_connect_timeout": SOCKET_TIMEOUT,
            "visibility_timeout": DEFAULT_VISIBILITY_TIMEOUT,
            "lease_timeout": DEFAULT_LEASE_TIMEOUT,
        },
        # Give up connecting to the broker within seconds, not minutes.
        "broker_connection_timeout": SOCKET_TIMEOUT,
        # An acks_late task cut off from the broker is redelivered anyway: stop it, so it
        # does not run twice at once (Celery 6 makes this the default).
        "worker_cancel_long_running_tasks_on_connection_loss": True,
    }
    if broker_url and broker_url != os.environ.get("CELERY_BROKER_URL", broker_url):
        # Likewise CELERY_BROKER_URL beats ``broker_url``; the read/write URLs beat it.
        settings["broker_read_url"] = settings["broker_write_url"] = broker_url
    settings.update(_leased_transport(broker, overrides))
    for key, value in overrides.items():
        if key in _MERGED_SETTINGS and isinstance(value, Mapping):
            settings[key] = {**settings.get(key, {}), **value}
        else:
            settings[key] = value
    app.conf.update(settings)
    return app


def _leased_transport(broker: str, overrides: Mapping[str, Any]) -> dict[str, Any]:
    """``broker_transport`` (and TLS defaults) selecting the leased transport for Redis URLs."""
    if "broker_transport" in overrides:
        return {}
    urls = [u.strip() for u in str(broker).split(";") if u.strip()]
    schemes = {u.split("://", 1)[0].lower() for u in urls}
    if not urls or not schemes <= {"redis", "rediss"}:
        return {}
    settings: dict[str, Any] = {"broker_transport": LEASED_TRANSPORT}
    if "rediss" in schemes and "ssl_cert_reqs" not in broker and "broker_use_ssl" not in overrides:
        # kombu enables TLS for the ``rediss`` transport name itself (without certificate
        # checks unless the URL asks for them); a transport given by class needs it said.
        import ssl

        settings["broker_use_ssl"] = {"ssl_cert_reqs": ssl.CERT_NONE}
    return settings


def ensure_visibility_timeout(app: Celery, retry_delay: float) -> int:
    """Raise the broker's visibility timeout above ``retry_delay`` if it is not already.

    A retried task waits for its countdown as an unacked message (acks_late); if the
    visibility timeout ran out first, Redis would deliver it again and it would run
    twice. Returns the visibility timeout now in effect (seconds).
    """
    options = dict(app.conf.broker_transport_options or {})
    current = options.get("visibility_timeout", DEFAULT_VISIBILITY_TIMEOUT)
    needed = math.ceil(retry_delay) + VISIBILITY_MARGIN
    if current is not None and current >= needed:
        return int(current)
    options["visibility_timeout"] = needed
    app.conf.broker_transport_options = options
    return needed
