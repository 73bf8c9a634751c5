"""Benchmark: task.delay() vs CompatQueue.put vs CompatQueue.put_many, same Redis, one run.

Targets (issue 4): put at least 2x and put_many at least 20x the sends per second of a
``.delay()`` loop, measured side by side. The three loops alternate over several rounds
(so load from other processes hits all of them alike) and each reports its best round.

    python bench/bench_compat_send.py [--quick] [--redis-url URL] [-n N] [--rounds R]

The Redis is --redis-url, else REDIS_URL, else redis://127.0.0.1:6379/0; only when none
answers does it fall back to the embedded server (and says so). It uses its own queue and
key namespace and deletes every key it created. No worker runs: the messages are counted
and deleted (tests/compat checks that a stock worker consumes them like .delay()'s).
Prints the raw figures, both ratios, and a JSON object as its last line.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import redis

from queue2celery import embedded_redis
from queue2celery.celery_tasks import make_celery_app
from queue2celery.celery_tasks.status import sent_key
from queue2celery.compat import CompatQueue, Rollout
from queue2celery.errors import redact_url
from queue2celery.legacy_queue import TaskQueue

DEFAULT_URL = "redis://127.0.0.1:6379/0"
BATCH = 1000


@contextlib.contextmanager
def _redis_url(explicit: str | None) -> Iterator[tuple[str, str]]:
    url = explicit or os.environ.get("REDIS_URL") or DEFAULT_URL
    try:
        redis.Redis.from_url(url, socket_timeout=2, socket_connect_timeout=2).ping()
    except redis.RedisError as exc:
        print(
            f"no Redis answers at {redact_url(url)} ({type(exc).__name__}); "
            "falling back to the embedded fakeredis server",
            file=sys.stderr,
        )
        with embedded_redis() as embedded:
            yield embedded, "embedded"
        return
    yield url, "real"


def _item(i: int) -> dict[str, Any]:
    return {"video_id": i, "user": f"user-{i % 97}", "files": [f"{i}.mp4", f"{i}.srt"]}


def _rate(n: int, fn: Callable[[], None]) -> float:
    started = time.perf_counter()
    fn()
    return n / (time.perf_counter() - started)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer sends and rounds")
    parser.add_argument("--redis-url", default=None, metavar="URL")
    parser.add_argument("-n", type=int, default=None, help="sends per loop and round")
    parser.add_argument("--rounds", type=int, default=None)
    args = parser.parse_args(argv)
    n = args.n or (300 if args.quick else 2000)
    rounds = args.rounds or (2 if args.quick else 3)

    with _redis_url(args.redis_url) as (url, kind):
        name = f"q2cbench-{uuid.uuid4().hex[:10]}"
        app = make_celery_app(name, broker_url=url, result_backend=url)
        app.conf.task_default_queue = name
        task_queue = TaskQueue()

        @task_queue.handler("process_video_upload")
        def process_video_upload(item: dict[str, Any]) -> int:  # never run: no worker
            return int(item["video_id"])

        cq = CompatQueue(task_queue, app, rollout=Rollout.all_celery(), namespace=name)
        task = cq.tasks["process_video_upload"]
        client = redis.Redis.from_url(url, socket_timeout=10)
        ids: list[str] = []
        rates: dict[str, list[float]] = {"delay": [], "put": [], "put_many": []}
        try:
            # Warm-up: connections, script load, task plans.
            ids += [task.delay(_item(0)).id, cq.put(_item(0)).id]
            ids += [h.id for h in cq.put_many([_item(0)] * 10)]

            def delay_loop() -> None:
                ids.extend(task.delay(_item(i)).id for i in range(n))

            def put_loop() -> None:
                ids.extend(cq.put(_item(i)).id for i in range(n))

            def many_loop() -> None:
                for start in range(0, n, BATCH):
                    batch = [_item(i) for i in range(start, min(n, start + BATCH))]
                    ids.extend(h.id for h in cq.put_many(batch))

            for _ in range(rounds):
                rates["delay"].append(_rate(n, delay_loop))
                rates["put"].append(_rate(n, put_loop))
                rates["put_many"].append(_rate(n, many_loop))

            handle = cq.put(_item(1))
            ids.append(handle.id)
            status = handle.status()
            queued = cq.celery_qsize()
        finally:
            cq.close()
            _cleanup(client, name, ids, cq)
            app.close()

    best = {key: max(values) for key, values in rates.items()}
    ratio = best["put"] / best["delay"]
    many_ratio = best["put_many"] / best["delay"]
    print(
        f"redis: {kind} ({redact_url(url)}); python {platform.python_version()}; "
        f"{os.cpu_count()} cores; {n} sends x {rounds} rounds, put_many batches of {BATCH}"
    )
    for key, values in rates.items():
        print(
            f"  {key:<9} best {best[key]:>9.0f}/s   rounds: "
            + ", ".join(f"{v:.0f}" for v in values)
        )
    print(f"  handle.status() after put: {status['status']}; messages queued: {queued}")
    print(
        f"put vs delay: {ratio:.1f}x (target 2x); put_many vs delay: {many_ratio:.1f}x (target 20x)"
    )
    print(
        json.dumps(
            {
                "name": "compat_send",
                "ratio": round(ratio, 2),
                "put_many_ratio": round(many_ratio, 2),
                "delay_per_s": round(best["delay"]),
                "put_per_s": round(best["put"]),
                "put_many_per_s": round(best["put_many"]),
                "n": n,
                "rounds": rounds,
                "redis": kind,
                "status_works": status["status"] == "PENDING",
            }
        )
    )
    return 0


def _cleanup(client: redis.Redis, name: str, ids: list[str], cq: CompatQueue) -> None:
    keys = {k for t in cq.tasks.values() for k in cq.sender.queue_keys(t)}
    keys.update(client.scan_iter(match=f"{name}*", count=1000))
    keys.update(sent_key(task_id) for task_id in ids)
    keys.update(f"celery-task-meta-{task_id}" for task_id in ids)
    pending = list(keys)
    for start in range(0, len(pending), 5000):
        client.delete(*pending[start : start + 5000])
    client.close()


if __name__ == "__main__":
    sys.exit(main())
