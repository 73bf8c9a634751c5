"""Measure what the atomic fetch costs against kombu's BRPOP: throughput and latency.

Not a test (pytest does not collect it). Both transports in one run, on the same Redis,
with one solo worker each, in turn:

    .venv/bin/python tests/reliability/measure_fetch_cost.py

- drain: N tiny tasks published first, then the time the worker takes to run them all;
- latency: on an idle worker, the time from publish to the task's first line, for a
  task at the default priority (the queue's main list, where the worker blocks) and at
  priority 6 (a priority sub-list, which the leased fetch looks at between waits).
A third run shows the leased transport with ``polling_interval=0.2`` (kombu's option:
the blocking wait, hence the priority sub-lists' idle latency, is 0.2 s instead of 1 s).
Prints one JSON line per variant, then a summary line with the ratios (leased / stock).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import redis

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _kills import write_app

from queue2celery.celery_tasks import start_worker

VARIANTS: dict[str, tuple[dict[str, Any], dict[str, Any]]] = {
    # name: (settings, transport options)
    "stock": ({"broker_transport": "redis"}, {}),
    "leased": ({}, {}),
    "leased_poll_0.2": ({}, {"polling_interval": 0.2}),
}


def _measure(url: str, directory: Path, variant: str, tasks: int, probes: int) -> dict[str, Any]:
    settings, options = VARIANTS[variant]
    name, module = write_app(directory, url, task_seconds=0.0, settings=settings, options=options)
    client = redis.Redis.from_url(url, socket_timeout=30)
    runs = f"{name}:runs"
    app = f"{module.__name__}:app"
    worker = start_worker(app, cwd=directory, queues=[name])
    try:
        worker.wait_ready(60)
        latency: dict[str, list[float]] = {"default": [], "priority_6": []}
        for i in range(probes):
            for kind, priority in (("default", None), ("priority_6", 6)):
                time.sleep(0.3)  # idle: the worker is waiting
                started = time.perf_counter()
                module.record.apply_async(args=[f"probe-{kind}-{i}"], priority=priority)
                if client.blpop([runs], timeout=30) is None:
                    raise SystemExit(f"{variant}: probe {kind} {i} never ran")
                latency[kind].append(time.perf_counter() - started)
        # Drain: everything published first, then a fresh worker; timed from its first
        # task to its last, so neither publishing nor start-up is counted.
        worker.stop()
        with module.app.producer_or_acquire() as producer:
            for i in range(tasks):
                module.record.apply_async(args=[f"item-{i}"], producer=producer)
        worker = start_worker(app, cwd=directory, queues=[name])
        deadline = time.monotonic() + 300
        while client.llen(runs) < 1 and time.monotonic() < deadline:
            time.sleep(0.002)
        started = time.perf_counter()
        while client.llen(runs) < tasks and time.monotonic() < deadline:
            time.sleep(0.01)
        drain = time.perf_counter() - started
        return {
            "variant": variant,
            "tasks": tasks,
            "drain_s": round(drain, 2),
            "tasks_per_s": round(tasks / drain),
            "latency_default_ms_median": round(statistics.median(latency["default"]) * 1000, 1),
            "latency_priority_6_ms_median": round(
                statistics.median(latency["priority_6"]) * 1000, 1
            ),
            "latency_priority_6_ms_max": round(max(latency["priority_6"]) * 1000, 1),
        }
    finally:
        worker.stop()
        module.app.close()
        keys = list(client.scan_iter(match=f"{name}*", count=1000))
        if keys:
            client.delete(*keys)
        client.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", type=int, default=3000)
    parser.add_argument("--probes", type=int, default=10)
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/0")
    args = parser.parse_args(argv)
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        for variant in VARIANTS:
            results[variant] = _measure(args.redis_url, Path(tmp), variant, args.tasks, args.probes)
            print(json.dumps(results[variant]), flush=True)
    stock, leased = results["stock"], results["leased"]
    print(
        json.dumps(
            {
                "name": "fetch_cost",
                "throughput_ratio": round(leased["tasks_per_s"] / stock["tasks_per_s"], 2),
                "latency_default_ratio": round(
                    leased["latency_default_ms_median"] / stock["latency_default_ms_median"], 2
                ),
            }
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
