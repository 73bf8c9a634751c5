"""Issue 8.2: Redis stopped for 10 s mid-stream (spool), and Redis frozen (raise).

The broker is a private ``redis-server`` (never the shared one); the tasks record their
runs on the real Redis, which stays up, so runs are counted by id across the outage.
The private server keeps no data across a restart (no RDB, no AOF: the fixture's choice),
so what was sent before the stop is drained first: losing a queue with the server is
Redis persistence's business, not the toolkit's. What is under test is the producer side:
puts during the outage land in the spool, and the spool sends each of them once.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import redis
from _reliability import cleanup_keys, load_compat_app, report, run_counts

from queue2celery.celery_tasks import WorkerProcess
from queue2celery.compat import CompatQueue, Rollout
from queue2celery.errors import BrokerUnavailable

pytestmark = [pytest.mark.reliability, pytest.mark.redis]

TASKS = 1000
OUTAGE_SECONDS = 10.0
FREEZE_BOUND_SECONDS = 5.0


@pytest.fixture
def record_client(real_redis: str, unique_name: str) -> Any:
    client = redis.Redis.from_url(real_redis, socket_timeout=5)
    yield client
    cleanup_keys(client, unique_name)
    client.close()


@pytest.mark.worker
def test_puts_during_a_10s_outage_are_spooled_and_each_runs_once(
    redis_server_factory: Callable[[], Any],
    real_redis: str,
    record_client: redis.Redis,
    write_module: Callable[[str, str], Path],
    worker_factory: Callable[..., WorkerProcess],
    unique_name: str,
    tmp_path: Path,
    wait_until: Callable[..., Any],
) -> None:
    server = redis_server_factory()
    module = load_compat_app(
        write_module, unique_name, broker_url=server.url, record_url=real_redis
    )
    broker = redis.Redis.from_url(server.url, socket_timeout=5)
    worker = worker_factory(
        f"{module.__name__}:app", cwd=tmp_path, queues=[unique_name], log_path=tmp_path / "w.log"
    )
    spool_path = tmp_path / "spool.sqlite3"
    cq = CompatQueue(
        module.task_queue,
        module.app,
        rollout=Rollout.all_celery(),
        on_broker_error="spool",
        spool_path=spool_path,
        namespace=unique_name,
    )
    runs_key = f"{unique_name}:runs"

    def distinct() -> int:
        return len(run_counts(record_client, runs_key))

    def state() -> str:
        return (
            f"distinct={distinct()} recorded={record_client.llen(runs_key)} "
            f"spooled={cq.spool.count() if cq.spool else None}\n{worker.log()[-3000:]}"
        )

    started = time.monotonic()
    try:
        # Before the outage: 400 sent and run; drained, so the restart loses nothing queued.
        handles = [cq.put({"id": f"t{i}"}) for i in range(400)]
        assert {h.backend for h in handles} == {"celery"}
        wait_until(lambda: distinct() == 400, 60, what="400 runs before the outage", detail=state)
        wait_until(
            lambda: broker.llen(unique_name) == 0 and broker.hlen(f"{unique_name}:unacked") == 0,
            30,
            what="the queue drained",
        )

        # The outage: 300 puts spread over 10 s while the server is stopped.
        server.stop()
        outage_started = time.monotonic()
        put_seconds: list[float] = []
        for i in range(400, 700):
            t0 = time.monotonic()
            cq.put({"id": f"t{i}"})
            put_seconds.append(time.monotonic() - t0)
            time.sleep(
                max(0.0, outage_started + (i - 399) * OUTAGE_SECONDS / 300 - time.monotonic())
            )
        spooled_during_outage = cq.spool.count() if cq.spool else 0
        server.start()
        outage = time.monotonic() - outage_started

        # After: 300 more straight away (the breaker may still be open for a probe's time).
        for i in range(700, TASKS):
            cq.put({"id": f"t{i}"})
        back = time.monotonic()
        wait_until(
            lambda: distinct() == TASKS, 120, interval=0.2, what="all 1,000 runs", detail=state
        )
        drained = time.monotonic() - back
        wait_until(lambda: cq.spool is not None and cq.spool.count() == 0, 30, what="empty spool")
        # Anything sent twice would run within the next moments: give it the chance.
        time.sleep(2.0)
    finally:
        cq.close()
        module.task_queue.stop()
        broker.close()
        module.app.close()

    counts = run_counts(record_client, runs_key)
    assert set(counts) == {f"t{i}" for i in range(TASKS)}
    twice = {k: n for k, n in counts.items() if n != 1}
    assert twice == {}, f"tasks that ran more than once: {twice}"
    assert spooled_during_outage == 300
    assert max(put_seconds) < FREEZE_BOUND_SECONDS
    report(
        {
            "test": "redis_stopped_spool",
            "tasks": TASKS,
            "outage_s": round(outage, 1),
            "spooled_during_outage": spooled_during_outage,
            "put_max_ms_during_outage": round(max(put_seconds) * 1000, 1),
            "put_median_ms_during_outage": round(sorted(put_seconds)[150] * 1000, 2),
            "seconds_from_restart_to_all_run": round(drained, 1),
            "ran_more_than_once": len(twice),
            "seconds_total": round(time.monotonic() - started, 1),
        }
    )


def test_put_on_a_frozen_redis_raises_broker_unavailable_within_5s(
    redis_server_factory: Callable[[], Any],
    real_redis: str,
    write_module: Callable[[str, str], Path],
    unique_name: str,
) -> None:
    server = redis_server_factory()
    module = load_compat_app(
        write_module, unique_name, broker_url=server.url, record_url=real_redis
    )
    broker = redis.Redis.from_url(server.url, socket_timeout=5)
    cq = CompatQueue(
        module.task_queue,
        module.app,
        rollout=Rollout.all_celery(),
        on_broker_error="raise",
        namespace=unique_name,
    )
    try:
        cq.put({"id": "before"})  # connected and warm before the freeze
        assert broker.llen(unique_name) == 1
        server.freeze()
        try:
            t0 = time.monotonic()
            with pytest.raises(BrokerUnavailable) as first:
                cq.put({"id": "frozen-1"})
            first_seconds = time.monotonic() - t0
            t0 = time.monotonic()
            with pytest.raises(BrokerUnavailable):
                cq.put({"id": "frozen-2"})
            second_seconds = time.monotonic() - t0
        finally:
            server.thaw()
        # A command already written to the frozen server's socket runs when it thaws.
        time.sleep(0.5)
        after_thaw = int(broker.llen(unique_name))
    finally:
        cq.close()
        broker.close()
        module.app.close()

    assert first_seconds < FREEZE_BOUND_SECONDS, first_seconds
    assert second_seconds < FREEZE_BOUND_SECONDS, second_seconds
    assert str(server.port) in str(first.value)
    # "nothing was enqueued" must stay true: the publish written to the frozen server's
    # socket runs when it thaws, and must then do nothing (compat's publish deadline).
    assert after_thaw == 1, f"{after_thaw - 1} message(s) enqueued after put raised"
    report(
        {
            "test": "redis_frozen_raise",
            "first_put_s": round(first_seconds, 2),
            "second_put_s": round(second_seconds, 2),
            "bound_s": FREEZE_BOUND_SECONDS,
            "messages_in_queue_after_thaw": after_thaw,
            "error": str(first.value)[:200],
        }
    )


def test_a_put_spooled_while_redis_is_frozen_is_queued_once_after_the_thaw(
    redis_server_factory: Callable[[], Any],
    real_redis: str,
    write_module: Callable[[str, str], Path],
    unique_name: str,
    tmp_path: Path,
    wait_until: Callable[..., Any],
) -> None:
    server = redis_server_factory()
    module = load_compat_app(
        write_module, unique_name, broker_url=server.url, record_url=real_redis
    )
    broker = redis.Redis.from_url(server.url, socket_timeout=5)
    cq = CompatQueue(
        module.task_queue,
        module.app,
        rollout=Rollout.all_celery(),
        on_broker_error="spool",
        spool_path=tmp_path / "spool.sqlite3",
        namespace=unique_name,
    )
    try:
        cq.put({"id": "before"})
        server.freeze()
        try:
            handle = cq.put({"id": "frozen"})  # times out, then spooled
        finally:
            server.thaw()
        assert cq.spool is not None
        wait_until(lambda: cq.spool.count() == 0, 30, what="the spool replayed")  # type: ignore[union-attr]
        ids = [json.loads(m)["headers"]["id"] for m in broker.lrange(unique_name, 0, -1)]
    finally:
        cq.close()
        broker.close()
        module.app.close()
    report({"test": "redis_frozen_spool", "copies_of_the_spooled_task": ids.count(handle.id)})
    # The late publish must not land as well as the spool's replay: the task is queued once.
    assert ids.count(handle.id) == 1, ids
