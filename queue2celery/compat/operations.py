"""What the ``rollout`` and ``spool`` commands do, as functions that return results."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, TypeVar

import redis

from ..celery_tasks.status import DEFAULT_SENT_TTL, mark_sent
from ..errors import BrokerUnavailable, ConfigError, redact_url
from .rollout import ALL_TASKS, Rollout, parse_percentage
from .rollout_store import DEFAULT_NAMESPACE, RolloutRow, RolloutStore
from .spool import ReplayResult, Spool

__all__ = ["RolloutReport", "rollout_clear", "rollout_set", "rollout_show", "spool_replay"]

T = TypeVar("T")


@dataclass(frozen=True)
class RolloutReport:
    """``rollout show``: this shell's Q2C_ROLLOUT and, per task, Redis's view."""

    namespace: str
    local_spec: str | None
    rows: list[RolloutRow]

    def to_dict(self) -> dict[str, Any]:
        return {
            "namespace": self.namespace,
            "local_spec": self.local_spec,
            "tasks": [
                {
                    "task": r.task,
                    "configured": r.configured,
                    "override": r.override,
                    "counts": dict(r.counts),
                }
                for r in self.rows
            ],
        }


def _client(url: str) -> redis.Redis:
    return redis.Redis.from_url(
        url, socket_timeout=2.0, socket_connect_timeout=2.0, retry=None, health_check_interval=0
    )


def _call(url: str, fn: Callable[[redis.Redis], T]) -> T:
    client = _client(url)
    try:
        return fn(client)
    except redis.RedisError as exc:
        raise BrokerUnavailable(
            f"Redis at {redact_url(url)} did not answer ({type(exc).__name__}); start it or "
            "pass the right --redis-url (REDIS_URL / CELERY_BROKER_URL)"
        ) from exc
    finally:
        client.close()


def _check_task_name(
    store: RolloutStore, task: str, app_tasks: Iterable[str], *, command: str, force_hint: bool
) -> None:
    """A typo must not set (or seem to clear) an override nobody reads. Known names: every
    task a CompatQueue reported, counted or that has an override in this namespace, plus
    ``app_tasks`` (the Celery app's, with -A)."""
    if task == ALL_TASKS:
        return
    known = ({row.task for row in store.rows()} | set(app_tasks)) - {ALL_TASKS}
    if task in known:
        return
    if known:
        listed = "known: " + ", ".join(repr(name) for name in sorted(known))
    else:
        listed = "no task is known there yet (no CompatQueue reported one: is --namespace right?)"
    ways = ["check the spelling", "give -A APP to add the app's tasks"]
    if force_hint:
        ways.append("or --force to set it anyway")
    raise ConfigError(
        f"rollout {command}: unknown task {task!r} in namespace {store.namespace!r}; {listed}; "
        f"{', '.join(ways)}"
    )


def rollout_set(
    redis_url: str,
    task: str,
    percentage: str,
    *,
    namespace: str = DEFAULT_NAMESPACE,
    app_tasks: Iterable[str] = (),
    force: bool = False,
    prefix: str = "",
) -> float:
    """Override ``task``'s share (``'*'``: every task, and drop per-task overrides).

    An unknown ``task`` is a ConfigError unless ``force`` (see ``_check_task_name``).
    """
    if not task:
        raise ConfigError("rollout set needs a task name, or '*' for every task")
    pct = parse_percentage(percentage, what="rollout set")

    def set_override(client: redis.Redis) -> None:
        store = RolloutStore(client, namespace, prefix)
        if not force:
            _check_task_name(store, task, app_tasks, command="set", force_hint=True)
        store.set_override(task, pct)

    _call(redis_url, set_override)
    return pct


def rollout_clear(
    redis_url: str,
    task: str | None = None,
    *,
    namespace: str = DEFAULT_NAMESPACE,
    counts: bool = False,
    app_tasks: Iterable[str] = (),
    prefix: str = "",
) -> None:
    """Drop the override of ``task`` (all overrides when None); ``counts`` resets counters.
    An unknown ``task`` is a ConfigError."""

    def clear(client: redis.Redis) -> None:
        store = RolloutStore(client, namespace, prefix)
        if task is not None:
            _check_task_name(store, task, app_tasks, command="clear", force_hint=False)
        store.clear(None if task in (None, ALL_TASKS) else task)
        if counts:
            store.reset_counts(None if task in (None, ALL_TASKS) else [task])

    _call(redis_url, clear)


def rollout_show(
    redis_url: str,
    *,
    namespace: str = DEFAULT_NAMESPACE,
    environ: dict[str, str] | None = None,
    prefix: str = "",
) -> RolloutReport:
    env = os.environ if environ is None else environ
    spec = env.get("Q2C_ROLLOUT") or None
    if spec is not None:
        Rollout.parse(spec)  # a typo here should be reported, not shown as if valid
    rows = _call(redis_url, lambda c: RolloutStore(c, namespace, prefix).rows())
    return RolloutReport(namespace=namespace, local_spec=spec, rows=rows)


def spool_replay(
    redis_url: str,
    path: str | os.PathLike[str],
    *,
    result_backend: str | None = None,
) -> ReplayResult:
    """Send everything the spool kept; raises BrokerUnavailable while Redis is down.

    Each task's sent marker is set on the broker with its message (it is what keeps a task
    from being pushed twice); with a separate ``result_backend`` it is also set there.
    """
    spool = Spool(path)
    before = set(spool.task_ids())
    client = _client(redis_url)
    try:
        result = spool.replay(client, redacted_url=redact_url(redis_url))
    finally:
        client.close()
    if result_backend and result_backend.rstrip("/") != redis_url.rstrip("/"):
        sent = before - set(spool.task_ids())

        def mark_all(backend: redis.Redis) -> None:
            with backend.pipeline(transaction=False) as pipe:
                for task_id in sent:
                    # Twice the default result expiry, as celery_tasks.status.marker_ttl.
                    mark_sent(pipe, task_id, ttl=2 * DEFAULT_SENT_TTL)
                pipe.execute()

        _call(result_backend, mark_all)
    return result
