"""Periodic functions as Celery tasks that never overlap themselves.

A ``while True: job(); sleep(N)`` loop can never run ``job`` twice at once. Under Celery
Beat it can: beat sends a tick every N seconds whatever the previous run is doing, and any
free worker takes it. So each run holds a Redis lock named after the task; a tick that
finds it held is skipped (logged, stored as state ``SKIPPED``), never queued behind.

The lock has a bounded TTL, so a worker killed mid-run blocks the entry for at most
``lock_ttl`` seconds, and it is renewed every third of that while the run goes on, so a
run longer than the TTL keeps it. The lock is per task name: two schedule entries of one
task (say, with different arguments) never run at once; give each its own task if they must.

What APScheduler's options become (each tested next to APScheduler):

- ``max_instances=1`` (its default): this lock.
- ``misfire_grace_time=G``: ``periodic_task(..., expires=G)``; a tick no worker starts within
  G seconds of being sent is discarded (REVOKED) instead of running late.
- ``coalesce=True`` (its default): beat by design; the last run time is kept in Redis and a
  beat back after a gap sends one tick, not one per missed run.
- ``coalesce=False`` and ``max_instances > 1``: no equivalent; beat never replays missed ticks.
"""

from __future__ import annotations

import functools
import inspect
import logging
import os
import threading
from collections.abc import Callable
from typing import Any

import redis
from celery import Celery, Task
from celery.exceptions import Ignore
from redis.exceptions import LockError

from ..errors import ConfigError
from ._loop import resolve

__all__ = ["DEFAULT_LOCK_TTL", "SKIPPED", "lock_key", "periodic_task"]

logger = logging.getLogger("queue2celery.periodic")

#: Seconds a dead worker's lock can block its entry when no ``lock_ttl`` is given.
DEFAULT_LOCK_TTL = 60.0
#: The result state of a tick skipped because the previous run still held the lock.
SKIPPED = "SKIPPED"
_KEY_PREFIX = "q2c:periodic-lock:"
_SOCKET_TIMEOUT = 5.0

_clients: dict[tuple[int, str], redis.Redis] = {}
_clients_lock = threading.Lock()


def lock_key(app: Celery, name: str) -> str:
    """The Redis key of the non-overlap lock of task ``name`` (with the app's key prefix)."""
    options = app.conf.broker_transport_options or {}
    return f"{options.get('global_keyprefix') or ''}{_KEY_PREFIX}{name}"


def _client(app: Celery) -> redis.Redis:
    # The lock lives on the broker's Redis; one client per process (a fork must not share
    # the parent's sockets).
    url = app.conf.broker_write_url or app.conf.broker_url
    if not isinstance(url, str) or not url.startswith(("redis://", "rediss://", "unix://")):
        raise ConfigError(
            f"periodic tasks keep their non-overlap lock in Redis, but the broker is {url!r}: "
            "set broker_url (or REDIS_URL) to a redis:// URL"
        )
    key = (os.getpid(), url)
    with _clients_lock:
        client = _clients.get(key)
        if client is None:
            client = redis.Redis.from_url(
                url, socket_timeout=_SOCKET_TIMEOUT, socket_connect_timeout=_SOCKET_TIMEOUT
            )
            _clients[key] = client
        return client


class _Renewer(threading.Thread):
    """Resets the lock's TTL every ``ttl / 3`` seconds until stopped."""

    def __init__(self, lock: Any, ttl: float, name: str) -> None:
        super().__init__(name=f"q2c-lock-{name}", daemon=True)
        self._lock = lock
        self._interval = ttl / 3
        self._stop_event = threading.Event()

    def run(self) -> None:
        while not self._stop_event.wait(self._interval):
            try:
                self._lock.reacquire()
            except (LockError, redis.RedisError) as exc:
                # The run goes on; only the guard is weaker. Say so, once.
                logger.warning("periodic lock %s could not be renewed: %s", self.name, exc)
                return

    def stop(self) -> None:
        self._stop_event.set()
        self.join(timeout=_SOCKET_TIMEOUT + 1)


def _run_locked(task: Task, fn: Callable[..., Any], ttl: float, args: Any, kwargs: Any) -> Any:
    name = task.name
    # thread_local=False: the renewing thread must see the token the run's thread took.
    lock = _client(task.app).lock(
        lock_key(task.app, name), timeout=ttl, blocking=False, thread_local=False
    )
    if not lock.acquire():
        logger.warning(
            "periodic task %s skipped (tick %s): the previous run still holds its lock",
            name,
            task.request.id,
        )
        if task.request.id and not task.request.is_eager:
            task.update_state(state=SKIPPED, meta={"reason": "previous run still running"})
        # Ignore: the worker stores nothing more, so SKIPPED stays the tick's state.
        raise Ignore()
    renewer = _Renewer(lock, ttl, name)
    renewer.start()
    try:
        return resolve(fn(*args, **kwargs))
    finally:
        renewer.stop()
        try:
            lock.release()
        except LockError:
            # It expired (a frozen process) and may be someone else's now: leave it.
            logger.warning("periodic task %s: its lock had expired before the run ended", name)


def periodic_task(
    app: Celery, *, name: str, lock_ttl: float | None = None, **task_options: Any
) -> Callable[[Callable[..., Any]], Task]:
    """Decorator: registers a Celery task named ``name`` on ``app`` that runs the wrapped sync or
    async function, holding a Redis non-overlap lock for ``name`` while it runs (TTL
    ``lock_ttl``, default 60 s, renewed every third of it while the run goes on); a run that
    finds the lock held is skipped and logged, never queued behind.

    ``task_options`` go to ``app.task`` (e.g. ``expires=`` for APScheduler's
    ``misfire_grace_time``, ``shared=False``). ``acks_late`` defaults to False here: a tick whose
    worker died is lost, as a loop's iteration was, instead of coming back an hour later
    (the visibility timeout) to run long after its time. Returns the Celery task.
    """
    if not isinstance(name, str) or not name:
        raise ConfigError(f"periodic_task needs a task name, got {name!r}: name='pkg.jobs.cleanup'")
    ttl = DEFAULT_LOCK_TTL if lock_ttl is None else lock_ttl
    if isinstance(ttl, bool) or not isinstance(ttl, (int, float)) or not ttl > 0:
        raise ConfigError(
            f"lock_ttl must be a positive number of seconds, got {lock_ttl!r}: e.g. lock_ttl=60"
        )
    for reserved in ("bind", "name"):
        if reserved in task_options:
            raise ConfigError(f"periodic_task sets {reserved!r} itself; remove {reserved}= ")

    task_options.setdefault("acks_late", False)

    def decorate(fn: Callable[..., Any]) -> Task:
        if not callable(fn):
            raise ConfigError(f"periodic_task decorates a function, got {fn!r}")

        @functools.wraps(fn)
        def run(self: Task, *args: Any, **kwargs: Any) -> Any:
            return _run_locked(self, fn, float(ttl), args, kwargs)

        if not run.__name__.isidentifier():
            # A lambda: Celery builds a function of this name to check arguments.
            run.__name__ = "periodic_function"
        # Celery checks a call's arguments against the signature: the task takes what fn
        # takes (after the bound task itself).
        signature = inspect.signature(fn)
        own = inspect.Parameter("self", inspect.Parameter.POSITIONAL_ONLY)
        run.__signature__ = signature.replace(  # type: ignore[attr-defined]
            parameters=[own, *signature.parameters.values()]
        )
        task: Task = app.task(name=name, bind=True, **task_options)(run)
        task.q2c_lock_ttl = float(ttl)
        # The function itself, for periodic parity (it binds arguments as the function does).
        task.q2c_function = fn
        return task

    return decorate
