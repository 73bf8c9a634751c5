"""The scheduler ``queue2celery beat`` runs: celery-redbeat with defaults that fail safe.

redbeat keeps the schedule in Redis and lets one beat at a time tick, through a lock every
other beat waits for. Its defaults are made for a single long-lived server; here:

- the lock lives on the broker's Redis under the app's ``global_keyprefix`` (redbeat ignores
  it), so two apps sharing a Redis do not block each other;
- beat wakes at least every ``DEFAULT_MAX_INTERVAL`` seconds (Celery: 300) and the lock's TTL
  is five of those, so a standby takes over within half a minute of the leader's death
  instead of redbeat's 25 minutes;
- a lock TTL not above the loop interval is refused: the lock would expire while the leader
  sleeps, a standby would take it, and the leader would die on its next extend
  (redbeat #230) or, worse, both would tick.

redbeat >= 2.1 stops a beat whose lock acquisition failed instead of letting it tick without
the lock (redbeat #208, fixed by #240), and extends the lock only if it still owns it (#127).

One gap is left: a leader frozen (SIGSTOP, a paused VM) after deciding a tick is due and
before recording that it sent it. A standby takes the lock, finds the same tick due and
sends it; the old leader wakes and sends it too (seen here: two runs 19 ms apart). So each
tick is claimed before it is sent, with SET NX on a key naming the entry and its previous
run time (the same on every beat until one of them sends the tick): whichever beat claims
it sends it, the other logs and sends nothing.
"""

from __future__ import annotations

import logging
import os
from typing import Any

from celery import Celery
from redbeat.schedulers import RedBeatScheduler, get_redis

from ..errors import ConfigError

__all__ = [
    "DEFAULT_MAX_INTERVAL",
    "LOCK_TIMEOUT_ENV",
    "MAX_INTERVAL_ENV",
    "Scheduler",
    "apply_beat_defaults",
    "check_lock_timeout",
    "redbeat_key_prefix",
]

#: Seconds beat sleeps at most between two looks at the schedule (and lock renewals).
DEFAULT_MAX_INTERVAL = 5.0
#: The lock TTL in loop intervals when none is configured.
LOCK_INTERVALS = 5
LOCK_TIMEOUT_ENV = "Q2C_BEAT_LOCK_TIMEOUT"
#: A tick's claim outlives a frozen leader by this many lock timeouts (at least a minute):
#: one frozen longer than that wakes to a tick long past, a misfire, not a duplicate.
CLAIM_LOCK_TIMEOUTS = 20
MAX_INTERVAL_ENV = "Q2C_BEAT_MAX_INTERVAL"
_SOCKET_TIMEOUT = 5.0

logger = logging.getLogger("queue2celery.beat")


def redbeat_key_prefix(app: Celery) -> str:
    """redbeat's key prefix for ``app``: its own setting, else ``global_keyprefix + 'redbeat:'``."""
    configured = app.conf.get("redbeat_key_prefix")
    if configured:
        return str(configured)
    options = app.conf.broker_transport_options or {}
    return f"{options.get('global_keyprefix') or ''}redbeat:"


def check_lock_timeout(lock_timeout: float, max_interval: float) -> None:
    """Refuse a lock TTL that could lapse while the leader sleeps between two renewals."""
    if not max_interval > 0:
        raise ConfigError(
            f"the beat loop interval must be a positive number of seconds, got {max_interval!r}"
        )
    if not lock_timeout >= 2 * max_interval:
        raise ConfigError(
            f"the beat lock timeout ({lock_timeout!r}s) must be at least twice the loop "
            f"interval ({max_interval!r}s), or the lock lapses between renewals and two "
            f"schedulers tick: raise --lock-timeout or lower --max-interval"
        )


def _env_float(name: str) -> float | None:
    raw = os.environ.get(name)
    if not raw:
        return None
    try:
        return float(raw)
    except ValueError:
        raise ConfigError(f"{name} must be a number of seconds, got {raw!r}") from None


def apply_beat_defaults(app: Celery, max_interval: float) -> float:
    """Fill in redbeat's settings the app leaves unset; returns the lock timeout in effect."""
    conf = app.conf
    url = conf.broker_write_url or conf.broker_url
    if not conf.get("redbeat_redis_url"):
        conf.redbeat_redis_url = url
    if not conf.get("redbeat_redis_options"):
        conf.redbeat_redis_options = {
            "socket_timeout": _SOCKET_TIMEOUT,
            "socket_connect_timeout": _SOCKET_TIMEOUT,
        }
    conf.redbeat_key_prefix = redbeat_key_prefix(app)
    lock_timeout = (
        _env_float(LOCK_TIMEOUT_ENV)
        or conf.get("redbeat_lock_timeout")
        or LOCK_INTERVALS * max_interval
    )
    check_lock_timeout(float(lock_timeout), max_interval)
    conf.redbeat_lock_timeout = lock_timeout
    return float(lock_timeout)


class Scheduler(RedBeatScheduler):
    """redbeat's scheduler with :func:`apply_beat_defaults` applied before it reads its config."""

    max_interval = DEFAULT_MAX_INTERVAL

    def __init__(self, app: Celery, max_interval: float | None = None, **kwargs: Any) -> None:
        interval = (
            max_interval
            or _env_float(MAX_INTERVAL_ENV)
            or app.conf.beat_max_loop_interval
            or DEFAULT_MAX_INTERVAL
        )
        # redbeat caches its config on the app at the first look: set ours before.
        if "redbeat_conf" in vars(app):
            delattr(app, "redbeat_conf")
        lock_timeout = apply_beat_defaults(app, float(interval))
        super().__init__(app, max_interval=interval, lock_timeout=lock_timeout, **kwargs)

    def apply_async(
        self, entry: Any, producer: Any = None, advance: bool = True, **kwargs: Any
    ) -> Any:
        """Send ``entry``'s due tick unless another beat has already claimed it."""
        if not self._claim(entry):
            logger.warning(
                "beat: the tick of %s after %s was already sent by another beat; not sending "
                "it twice",
                entry.name,
                entry.last_run_at,
            )
            return None
        return super().apply_async(entry, producer=producer, advance=advance, **kwargs)

    def _claim(self, entry: Any) -> bool:
        previous = entry.last_run_at.isoformat() if entry.last_run_at else "never"
        key = f"{self.app.redbeat_conf.key_prefix}q2c:tick:{entry.name}:{previous}"
        ttl = max(60, int(CLAIM_LOCK_TIMEOUTS * float(self.lock_timeout or 0)))
        return bool(get_redis(self.app).set(key, "1", nx=True, ex=ttl))
