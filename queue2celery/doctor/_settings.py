"""Checks on settings and on what sits in the broker: backlog, pool, serializer, Redis config."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import redis
from celery import Celery
from kombu.exceptions import ChannelError

from ._check import Check
from ._workers import listed, start_hint

__all__ = [
    "check_eviction",
    "check_persistence",
    "check_serializer",
    "check_waiting",
    "check_windows_pool",
    "read_config",
]

_PICKLE = {"pickle", "application/x-python-serialize"}
_FORK_POOLS = ("prefork", "processes")


def _queue_size(app: Celery, name: str, timeout: float) -> int:
    # A passive declare reports the message count through kombu, so the transport's own
    # key layout (priority lists, global_keyprefix) is honoured.
    with app.connection_for_read() as conn:
        conn.ensure_connection(max_retries=1, timeout=timeout)
        channel = conn.channel()
        try:
            _, count, _ = channel.queue_declare(queue=name, passive=True)
            return int(count)
        except ChannelError:
            return 0  # the queue was never declared: nothing waits in it
        finally:
            channel.close()


def check_waiting(
    app: Celery,
    app_spec: str,
    queues: Sequence[str],
    consumed: set[str],
    timeout: float,
) -> Check:
    try:
        sizes = {name: _queue_size(app, name, timeout) for name in queues}
    except Exception as exc:
        return Check("waiting", "SKIP", f"could not count messages: {type(exc).__name__}")
    stuck = {name: n for name, n in sizes.items() if n and name not in consumed}
    if stuck:
        where = ", ".join(f"{n} in {name!r}" for name, n in stuck.items())
        return Check(
            "waiting",
            "FAIL",
            f"messages wait in queues nobody consumes: {where}; they stay PENDING until a "
            "worker listens there",
            start_hint(app_spec, list(stuck)),
        )
    backlog = ", ".join(f"{n} in {name!r}" for name, n in sizes.items() if n)
    detail = f"no message waits in an unconsumed queue ({listed(queues)})"
    if backlog:
        detail += f"; backlog being consumed: {backlog}"
    return Check("waiting", "PASS", detail)


def check_windows_pool(
    app: Celery, app_spec: str, platform: str, pools: Mapping[str, str] | None
) -> Check:
    if not platform.startswith("win"):
        return Check("windows_pool", "PASS", f"not Windows ({platform}): every pool works")
    fix = (
        "start the worker with --pool=solo (or --pool=threads), or set worker_pool='solo'; "
        f"queue2celery worker -A {app_spec} picks it for you"
    )
    if pools:
        forking = [f"{node} ({impl})" for node, impl in pools.items() if _needs_fork(impl)]
        if forking:
            return Check(
                "windows_pool",
                "FAIL",
                f"workers run a pool that needs fork, which Windows lacks (tasks hang or fail "
                f"with 'not enough values to unpack'): {listed(forking)}",
                fix,
            )
        return Check(
            "windows_pool", "PASS", f"the workers' pools work on Windows: {listed(pools.values())}"
        )
    configured = str(app.conf.worker_pool)
    if _needs_fork(configured):
        return Check(
            "windows_pool",
            "FAIL",
            f"celery -A {app_spec} worker would start worker_pool={configured!r}, which needs fork",
            fix,
        )
    return Check("windows_pool", "PASS", f"worker_pool={configured!r} works on Windows")


def _needs_fork(pool: str) -> bool:
    return any(name in pool.lower() for name in _FORK_POOLS)


def check_serializer(app: Celery) -> Check:
    accept = [str(c) for c in (app.conf.accept_content or [])]
    result_accept = [str(c) for c in (app.conf.result_accept_content or accept)]
    serializers = [str(app.conf.task_serializer), str(app.conf.result_serializer)]
    risky = sorted(set(accept + result_accept + serializers) & _PICKLE)
    if risky:
        return Check(
            "serializer",
            "WARN",
            f"pickle is allowed (accept_content={accept!r}): anyone who can write to the broker "
            "can run code on the workers",
            "use accept_content=['json'] with task_serializer='json' and result_serializer='json'",
        )
    return Check("serializer", "PASS", f"accept_content={accept!r}")


def read_config(client: redis.Redis, key: str) -> str | None:
    """CONFIG GET ``key``; None when the server does not allow CONFIG."""
    try:
        reply = client.config_get(key)
    except redis.ResponseError:
        return None  # unknown command, NOPERM, renamed away: managed Redis often does this
    value = reply.get(key)
    if isinstance(value, bytes):
        value = value.decode()
    return None if value is None else str(value)


def _no_config(name: str) -> Check:
    return Check(
        name,
        "SKIP",
        "the broker does not allow CONFIG GET (managed or embedded Redis); check it by hand",
    )


def check_eviction(client: redis.Redis | None) -> Check:
    if client is None:
        return Check("redis_eviction", "SKIP", "not checked: needs a reachable Redis broker")
    policy = read_config(client, "maxmemory-policy")
    if policy is None:
        return _no_config("redis_eviction")
    if policy.startswith("allkeys-"):
        return Check(
            "redis_eviction",
            "WARN",
            f"maxmemory-policy is {policy!r}: when memory is full Redis silently drops any key, "
            "queued tasks and results included",
            "set maxmemory-policy noeviction (redis.conf, or CONFIG SET): writes then fail "
            "loudly instead",
        )
    return Check("redis_eviction", "PASS", f"maxmemory-policy is {policy!r}")


def check_persistence(client: redis.Redis | None) -> Check:
    if client is None:
        return Check("redis_persistence", "SKIP", "not checked: needs a reachable Redis broker")
    save = read_config(client, "save")
    appendonly = read_config(client, "appendonly")
    if save is None or appendonly is None:
        return _no_config("redis_persistence")
    if save.strip() == "" and appendonly.strip().lower() == "no":
        return Check(
            "redis_persistence",
            "WARN",
            'the broker persists nothing (save "" and appendonly no): a Redis restart loses '
            "every queued task, the durability the migration is for",
            "enable AOF (appendonly yes, appendfsync everysec) or RDB snapshots (save 60 1000) "
            "in redis.conf",
        )
    how = "AOF" if appendonly.strip().lower() == "yes" else f"RDB (save {save!r})"
    return Check("redis_persistence", "PASS", f"the broker persists with {how}")
