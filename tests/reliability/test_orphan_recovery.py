"""Issue 14.2: a killed worker's tasks come back in seconds; a live worker's never do.

Scaled down for CI: lease timeout 3 s (default 30 s) and visibility timeout 3 s with
kombu's restore sweep every second (default 3,600 s and ~100 s), a 12 s task instead of
120 s. ``measure_orphan_recovery.py`` runs the same two checks with the defaults.
Each test runs on the embedded fakeredis server and on the real Redis.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import redis
from _kills import write_app
from _reliability import report, run_counts

from queue2celery.celery_tasks import WorkerProcess

pytestmark = [pytest.mark.reliability, pytest.mark.worker]

LEASE_TIMEOUT = 3.0
LEASE_INTERVAL = 0.5
# The stock sweep on, with a visibility timeout far below the task's length: only the
# lease renewal keeps the long task from being delivered again.
STOCK_SWEEP = {
    "visibility_timeout": 3,
    "unacked_restore_interval": 1,
    "unacked_restore_throttle": 1,
}


def _app(tmp_path: Path, url: str, **options: Any) -> tuple[str, Any]:
    return write_app(
        tmp_path,
        url,
        task_seconds=0.0,
        options={"lease_timeout": LEASE_TIMEOUT, "lease_interval": LEASE_INTERVAL, **options},
    )


def _start(
    factory: Callable[..., WorkerProcess], module: Any, name: str, tmp_path: Path, **kw: Any
) -> WorkerProcess:
    return factory(
        f"{module.__name__}:app",
        cwd=tmp_path,
        queues=[name],
        log_path=tmp_path / f"worker-{time.monotonic_ns()}.log",
        **kw,
    )


def _cleanup(client: redis.Redis, name: str, module: Any) -> None:
    module.app.close()
    keys = list(client.scan_iter(match=f"{name}*", count=1000))
    if keys:
        client.delete(*keys)
    client.close()


@pytest.mark.parametrize("pool", ["solo", "prefork"])
def test_a_killed_workers_task_runs_again_within_the_lease_timeout(
    wait_until: Callable[..., Any],
    broker_url: str,
    worker_factory: Callable[..., WorkerProcess],
    tmp_path: Path,
    pool: str,
) -> None:
    name, module = _app(tmp_path, broker_url)
    client = redis.Redis.from_url(broker_url, socket_timeout=5)
    try:
        extra: dict[str, Any] = {"concurrency": 1} if pool == "prefork" else {}
        victim = _start(worker_factory, module, name, tmp_path, pool=pool, **extra)
        module.record.delay("hold-1")
        wait_until(
            lambda: client.get(f"{name}:held:hold-1") is not None, 60, what="hold-1 running"
        )
        # A second, idle worker is running before the kill: the one that must pick it up.
        survivor = _start(worker_factory, module, name, tmp_path)
        victim.kill()
        killed_at = time.monotonic()
        assert client.hlen(f"{name}:unacked") == 1, "the held message is unacked, under lease"
        wait_until(
            lambda: client.llen(f"{name}:runs") >= 2,
            LEASE_TIMEOUT + 30,
            interval=0.05,
            what="hold-1 running again",
            detail=lambda: survivor.log()[-2000:],
        )
        recovered = time.monotonic() - killed_at
        wait_until(lambda: client.hlen(f"{name}:unacked") == 0, 30, what="acked")
        counts = run_counts(client, f"{name}:runs")
    finally:
        _cleanup(client, name, module)
    assert counts == {"hold-1": 2}
    # Silent for lease_timeout, then found by the next sweep (every lease_interval).
    assert recovered <= LEASE_TIMEOUT + LEASE_INTERVAL + 3.0, recovered
    assert time.monotonic() - killed_at >= LEASE_TIMEOUT - 0.5
    report(
        {
            "test": "orphan_recovery",
            "pool": pool,
            "broker": "embedded" if "6379" not in broker_url else "redis",
            "lease_timeout_s": LEASE_TIMEOUT,
            "kill_to_rerun_s": round(recovered, 2),
        }
    )


def test_a_long_task_on_a_live_worker_runs_once_past_the_visibility_timeout(
    wait_until: Callable[..., Any],
    broker_url: str, worker_factory: Callable[..., WorkerProcess], tmp_path: Path
) -> None:
    name, module = _app(tmp_path, broker_url, **STOCK_SWEEP)
    client = redis.Redis.from_url(broker_url, socket_timeout=5)
    try:
        # Two solo workers: the one running the task blocks its event loop for 12 s (only
        # the lease thread runs), the other is idle and would take a redelivered copy.
        first = _start(worker_factory, module, name, tmp_path)
        second = _start(worker_factory, module, name, tmp_path)
        started = time.monotonic()
        module.record.apply_async(args=["long-1"], kwargs={"seconds": 12.0})
        wait_until(
            lambda: client.llen(f"{name}:runs") >= 1 and client.hlen(f"{name}:unacked") == 0,
            60,
            interval=0.1,
            what="the long task done and acked",
            detail=lambda: first.log()[-1500:] + second.log()[-1500:],
        )
        took = time.monotonic() - started
        time.sleep(LEASE_TIMEOUT + 1.0)  # a redelivered copy would have run by now
        counts = run_counts(client, f"{name}:runs")
    finally:
        _cleanup(client, name, module)
    assert took >= 12.0
    assert counts == {"long-1": 1}, counts
    report(
        {
            "test": "long_task_runs_once",
            "task_s": 12.0,
            "visibility_timeout_s": STOCK_SWEEP["visibility_timeout"],
            "lease_timeout_s": LEASE_TIMEOUT,
            "runs": 1,
        }
    )


def test_a_countdown_task_waiting_on_a_live_worker_runs_once(
    wait_until: Callable[..., Any],
    embedded_url: str, worker_factory: Callable[..., WorkerProcess], tmp_path: Path
) -> None:
    """A retry countdown longer than the visibility timeout no longer needs a larger one.

    The embedded server only: the long-task test above covers the real Redis.
    """
    name, module = _app(tmp_path, embedded_url, **STOCK_SWEEP)
    client = redis.Redis.from_url(embedded_url, socket_timeout=5)
    try:
        _start(worker_factory, module, name, tmp_path)
        _start(worker_factory, module, name, tmp_path)
        module.record.apply_async(args=["eta-1"], countdown=8)
        wait_until(lambda: client.llen(f"{name}:runs") >= 1, 60, interval=0.1, what="eta-1")
        wait_until(lambda: client.hlen(f"{name}:unacked") == 0, 30, what="acked")
        time.sleep(LEASE_TIMEOUT + 1.0)
        counts = run_counts(client, f"{name}:runs")
    finally:
        _cleanup(client, name, module)
    assert counts == {"eta-1": 1}, counts


@pytest.mark.redis
def test_a_redis_freeze_longer_than_the_lease_timeout_does_not_redeliver_a_running_task(
    wait_until: Callable[..., Any],
    redis_server_factory: Callable[[], Any],
    worker_factory: Callable[..., WorkerProcess],
    tmp_path: Path,
) -> None:
    """After a freeze every lease looks expired: the sweep waits until live ones renew."""
    server = redis_server_factory()
    name, module = _app(tmp_path, server.url)
    client = redis.Redis.from_url(server.url, socket_timeout=10)
    try:
        _start(worker_factory, module, name, tmp_path)
        _start(worker_factory, module, name, tmp_path)
        module.record.apply_async(args=["long-1"], kwargs={"seconds": 10.0})
        wait_until(lambda: client.llen(f"{name}:runs") >= 1, 60, what="long-1 started")
        server.freeze()
        time.sleep(2 * LEASE_TIMEOUT)
        server.thaw()
        wait_until(lambda: client.hlen(f"{name}:unacked") == 0, 60, interval=0.1, what="acked")
        time.sleep(LEASE_TIMEOUT + 1.0)
        counts = run_counts(client, f"{name}:runs")
    finally:
        server.thaw()
        _cleanup(client, name, module)
    assert counts == {"long-1": 1}, counts


def test_under_a_global_keyprefix_workers_run_tasks_and_recover_a_killed_ones(
    wait_until: Callable[..., Any],
    broker_url: str, worker_factory: Callable[..., WorkerProcess], tmp_path: Path
) -> None:
    prefix = f"q2cprefix-{time.monotonic_ns()}:"
    name, module = _app(tmp_path, broker_url, global_keyprefix=prefix)
    client = redis.Redis.from_url(broker_url, socket_timeout=5)
    try:
        victim = _start(worker_factory, module, name, tmp_path)
        for i in range(20):
            module.record.delay(f"item-{i}")
        module.record.delay("hold-1")
        wait_until(lambda: client.get(f"{name}:held:hold-1") is not None, 60, what="hold-1")
        assert client.hlen(f"{prefix}{name}:unacked") == 1
        _start(worker_factory, module, name, tmp_path)
        victim.kill()
        wait_until(lambda: client.llen(f"{name}:runs") >= 22, LEASE_TIMEOUT + 30, what="rerun")
        wait_until(lambda: client.hlen(f"{prefix}{name}:unacked") == 0, 30, what="acked")
        counts = run_counts(client, f"{name}:runs")
        unprefixed = [k for k in client.scan_iter(match=f"{name}*") if b":runs" not in k
                      and b":held:" not in k]  # fmt: skip
    finally:
        for key in client.scan_iter(match=f"{prefix}*", count=1000):
            client.delete(key)
        _cleanup(client, name, module)
    assert counts == {**{f"item-{i}": 1 for i in range(20)}, "hold-1": 2}
    assert unprefixed == [], "every broker key carries the prefix"
