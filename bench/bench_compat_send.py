"""Benchmark: task.delay() vs CompatQueue.put vs CompatQueue.put_many, same Redis, one run.

Targets (issue 4): put at least 2x and put_many at least 20x the sends per second of a
``.delay()`` loop, measured side by side. Issue 11 adds two: put through a CompatQueue over an
adopted ``queue.Queue`` at least 2x ``.delay()`` too, and encoding a 10-field dataclass payload
(the ``types`` codec) at most 20 us per item. The three loops alternate over several rounds
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
import datetime as dt
import json
import os
import platform
import queue
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import redis

from queue2celery import embedded_redis
from queue2celery.celery_tasks import make_celery_app
from queue2celery.celery_tasks.status import sent_key
from queue2celery.compat import CompatQueue, Rollout
from queue2celery.compat._types import TypeEncoder
from queue2celery.errors import redact_url
from queue2celery.legacy_queue import TaskQueue, adopt

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


@dataclass
class Clip:
    """A 10-field payload object, as an app's task classes look."""

    clip_id: int
    title: str
    path: str
    size: int
    duration: float
    tags: list[str] = field(default_factory=lambda: ["hd", "zh"])
    meta: dict[str, str] = field(default_factory=lambda: {"camera": "A7", "城市": "北京"})
    created_at: dt.datetime = field(default_factory=lambda: dt.datetime(2024, 5, 1, 9, 0))
    public: bool = True
    owner: str | None = None


# Run as a script this module is __main__, which types= refuses (a worker could not find it).
Clip.__module__ = "bench_compat_send"


def process_clip(item: Any) -> int:  # never run: no worker
    return 0


def _encode_us(n: int) -> float:
    """Microseconds per item to encode a Clip (best of 5 runs of n)."""
    adopted = adopt(queue.Queue(), run=process_clip, types=[Clip], name="bench.process_clip")
    encoder = TypeEncoder(adopted.types, "json")
    clips = [Clip(i, f"clip {i}", f"/media/{i}.mp4", 1000 + i, 12.5) for i in range(n)]
    best = float("inf")
    for _ in range(5):
        started = time.perf_counter()
        for clip in clips:
            encoder.encode(clip)
        best = min(best, (time.perf_counter() - started) / n * 1e6)
    return best


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
        # The app's own queue.Queue, adopted: the same item, split, routed and encoded.
        aq = CompatQueue(
            adopt(queue.Queue(), run=process_clip, name=f"{name}.process_clip"),
            app,
            rollout=Rollout.all_celery(),
            namespace=name,
        )
        client = redis.Redis.from_url(url, socket_timeout=10)
        ids: list[str] = []
        rates: dict[str, list[float]] = {"delay": [], "put": [], "put_many": [], "adopted": []}
        try:
            # Warm-up: connections, script load, task plans.
            ids += [task.delay(_item(0)).id, cq.put(_item(0)).id, aq.put(_item(0)).id]
            ids += [h.id for h in cq.put_many([_item(0)] * 10)]

            def delay_loop() -> None:
                ids.extend(task.delay(_item(i)).id for i in range(n))

            def put_loop() -> None:
                ids.extend(cq.put(_item(i)).id for i in range(n))

            def many_loop() -> None:
                for start in range(0, n, BATCH):
                    batch = [_item(i) for i in range(start, min(n, start + BATCH))]
                    ids.extend(h.id for h in cq.put_many(batch))

            def adopted_loop() -> None:
                ids.extend(aq.put(_item(i)).id for i in range(n))

            for _ in range(rounds):
                rates["delay"].append(_rate(n, delay_loop))
                rates["put"].append(_rate(n, put_loop))
                rates["put_many"].append(_rate(n, many_loop))
                rates["adopted"].append(_rate(n, adopted_loop))

            handle = cq.put(_item(1))
            ids.append(handle.id)
            status = handle.status()
            queued = cq.celery_qsize()
        finally:
            cq.close()
            aq.close()
            _cleanup(client, name, ids, cq, aq)
            app.close()
        encode_us = _encode_us(2000 if not args.quick else 500)

    best = {key: max(values) for key, values in rates.items()}
    ratio = best["put"] / best["delay"]
    many_ratio = best["put_many"] / best["delay"]
    adopted_ratio = best["adopted"] / best["delay"]
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
        f"adopted queue put vs delay: {adopted_ratio:.1f}x (target 2x); encoding a 10-field "
        f"dataclass: {encode_us:.1f} us per item (target <= 20 us)"
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
                "adopted_ratio": round(adopted_ratio, 2),
                "adopted_per_s": round(best["adopted"]),
                "encode_dataclass_us": round(encode_us, 2),
                "n": n,
                "rounds": rounds,
                "redis": kind,
                "status_works": status["status"] == "PENDING",
            }
        )
    )
    return 0


def _cleanup(client: redis.Redis, name: str, ids: list[str], *queues: CompatQueue) -> None:
    keys = {k for cq in queues for t in cq.tasks.values() for k in cq.sender.queue_keys(t)}
    keys.update(client.scan_iter(match=f"{name}*", count=1000))
    keys.update(sent_key(task_id) for task_id in ids)
    keys.update(f"celery-task-meta-{task_id}" for task_id in ids)
    pending = list(keys)
    for start in range(0, len(pending), 5000):
        client.delete(*pending[start : start + 5000])
    client.close()


if __name__ == "__main__":
    sys.exit(main())
