"""Issue 8.5: 8 threads x 2,000 puts through one CompatQueue at a 50% rollout.

Every put's handle says which backend took it. Legacy-side runs are counted in the
producer's memory, Celery-side runs are recorded in Redis by a real (solo) worker; each id must
have run exactly once, on the backend its handle named (none lost, none twice).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import redis
from _reliability import cleanup_keys, load_compat_app, report, run_counts

from queue2celery.celery_tasks import WorkerProcess
from queue2celery.compat import CompatQueue, Rollout

pytestmark = [pytest.mark.reliability, pytest.mark.redis, pytest.mark.worker]

THREADS = 8
PUTS_PER_THREAD = 2000
TOTAL = THREADS * PUTS_PER_THREAD


def test_8_threads_x_2000_puts_at_50_percent_each_run_exactly_once(
    real_redis: str,
    write_module: Callable[[str, str], Path],
    worker_factory: Callable[..., WorkerProcess],
    unique_name: str,
    tmp_path: Path,
    wait_until: Callable[..., Any],
) -> None:
    module = load_compat_app(
        write_module,
        unique_name,
        broker_url=real_redis,
        record_url=real_redis,
        count_legacy_in_process=True,
    )
    client = redis.Redis.from_url(real_redis, socket_timeout=5)
    runs_key = f"{unique_name}:runs"
    worker = worker_factory(
        f"{module.__name__}:app",
        cwd=tmp_path,
        queues=[unique_name],
        # Solo: on 2 cores it runs these tiny tasks faster than prefork's 2 children (no
        # parent-child pipe); prefork is killed and checked in test_worker_killed.py.
        pool="solo",
        env={"Q2C_IN_WORKER": "1"},
        log_path=tmp_path / "worker.log",
    )
    cq = CompatQueue(
        module.task_queue,
        module.app,
        rollout=Rollout.parse("50"),
        on_broker_error="raise",
        namespace=unique_name,
    )
    handles: dict[str, tuple[str, str]] = {}  # item id -> (task id, backend)
    errors: list[BaseException] = []
    lock = threading.Lock()
    go = threading.Barrier(THREADS)

    def producer(n: int) -> None:
        mine: dict[str, tuple[str, str]] = {}
        try:
            go.wait(timeout=30)
            for i in range(PUTS_PER_THREAD):
                item_id = f"{n}-{i}"
                handle = cq.put({"id": item_id})
                mine[item_id] = (handle.id, handle.backend)
        except BaseException as exc:  # reported by the test below
            errors.append(exc)
        with lock:
            handles.update(mine)

    started = time.monotonic()
    try:
        threads = [threading.Thread(target=producer, args=(n,)) for n in range(THREADS)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=180)
        put_seconds = time.monotonic() - started
        assert not any(t.is_alive() for t in threads), "a producer thread hung"
        assert errors == [], errors[:3]
        assert len(handles) == TOTAL

        celery_ids = {i for i, (_t, backend) in handles.items() if backend == "celery"}
        legacy_ids = {i for i, (_t, backend) in handles.items() if backend == "legacy"}
        assert len(celery_ids) + len(legacy_ids) == TOTAL

        def state() -> str:
            return (
                f"celery recorded={client.llen(runs_key)}/{len(celery_ids)} "
                f"legacy={len(module.LEGACY_RUNS)}/{len(legacy_ids)} "
                f"queued={client.llen(unique_name)}\n{worker.log()[-2000:]}"
            )

        wait_until(
            lambda: sum(module.LEGACY_RUNS.values()) >= len(legacy_ids),
            60,
            what="the legacy side",
            detail=state,
        )
        wait_until(
            lambda: client.llen(runs_key) >= len(celery_ids),
            240,
            interval=0.25,
            what="the Celery side",
            detail=state,
        )
        wait_until(
            lambda: client.llen(unique_name) == 0 and client.hlen(f"{unique_name}:unacked") == 0,
            30,
            what="the queue drained",
        )
        done_seconds = time.monotonic() - started
        time.sleep(1.0)  # a duplicate would show up now
        celery_runs = run_counts(client, runs_key)
        legacy_runs = dict(module.LEGACY_RUNS)
    finally:
        cq.close()
        module.task_queue.stop()
        module.app.close()
        cleanup_keys(client, unique_name)
        client.close()

    assert set(celery_runs) == celery_ids, "Celery side: lost or misrouted ids"
    assert set(legacy_runs) == legacy_ids, "legacy side: lost or misrouted ids"
    twice = {k: n for k, n in {**celery_runs, **legacy_runs}.items() if n != 1}
    assert twice == {}, f"ran more than once: {dict(list(twice.items())[:10])}"
    share = len(celery_ids) / TOTAL
    assert 0.45 < share < 0.55, share
    report(
        {
            "test": "concurrent_load",
            "threads": THREADS,
            "puts": TOTAL,
            "celery": len(celery_ids),
            "legacy": len(legacy_ids),
            "celery_share": round(share, 3),
            "lost": 0,
            "duplicates": 0,
            "puts_s": round(put_seconds, 1),
            "puts_per_s": round(TOTAL / put_seconds),
            "all_done_s": round(done_seconds, 1),
            "pool": "solo",
        }
    )
