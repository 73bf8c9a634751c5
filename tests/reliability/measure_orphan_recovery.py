"""Measure, with the default settings, how fast a killed worker's task runs again, and
that a 120 s task with ``visibility_timeout=30`` runs once.

Not a test (pytest does not collect it); ``test_orphan_recovery.py`` runs both checks
scaled down (lease timeout 3 s, a 12 s task with a 3 s visibility timeout). RELIABILITY.md
quotes this script:

    .venv/bin/python tests/reliability/measure_orphan_recovery.py

Recovery: a worker runs a task that holds its process; a second worker idles on the same
queue; the first is killed with SIGKILL (its whole process group), and the time until the
task's second run starts is measured. Long task: two solo workers, one 120 s task, kombu's
visibility timeout 30 s with its restore sweep every second (its default, ~100 s, could
let a redelivery slip past the end of the task and prove nothing); the task must run once.
Only the unacked key names are made unique (the Redis is shared).
Prints one JSON line per trial, then a summary JSON line.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

import redis

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _kills import write_app

from queue2celery.celery_tasks import WorkerProcess, start_worker


def _wait(predicate: Any, timeout: float, what: str) -> float:
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        if predicate():
            return time.monotonic() - started
        time.sleep(0.05)
    raise SystemExit(f"timed out after {timeout:.0f}s waiting for {what}")


def _cleanup(client: redis.Redis, name: str, module: Any, workers: list[WorkerProcess]) -> None:
    for w in workers:
        w.stop()
    module.app.close()
    keys = list(client.scan_iter(match=f"{name}*", count=1000))
    if keys:
        client.delete(*keys)


def recovery(url: str, directory: Path, pool: str) -> dict[str, Any]:
    name, module = write_app(directory, url, task_seconds=0.0)
    client = redis.Redis.from_url(url, socket_timeout=10)
    workers: list[WorkerProcess] = []
    app = f"{module.__name__}:app"
    try:
        extra: dict[str, Any] = {"concurrency": 2} if pool == "prefork" else {}
        victim = start_worker(app, cwd=directory, queues=[name], pool=pool, **extra)
        workers.append(victim)
        victim.wait_ready(60)
        module.record.delay("hold-1")
        _wait(lambda: client.get(f"{name}:held:hold-1") is not None, 60, "hold-1 to start")
        survivor = start_worker(app, cwd=directory, queues=[name])
        workers.append(survivor)
        survivor.wait_ready(60)
        victim.kill()
        seconds = _wait(lambda: client.llen(f"{name}:runs") >= 2, 300, "hold-1 to run again")
        _wait(lambda: client.hlen(f"{name}:unacked") == 0, 60, "the ack")
        runs = Counter(client.lrange(f"{name}:runs", 0, -1))
        return {"check": "recovery", "pool": pool, "kill_to_rerun_s": round(seconds, 1),
                "runs": sum(runs.values())}  # fmt: skip
    finally:
        _cleanup(client, name, module, workers)
        client.close()


def long_task(url: str, directory: Path, seconds: float, visibility: float) -> dict[str, Any]:
    options = {
        "visibility_timeout": visibility,
        "unacked_restore_interval": 1,
        "unacked_restore_throttle": 1,
    }
    name, module = write_app(directory, url, task_seconds=0.0, options=options)
    client = redis.Redis.from_url(url, socket_timeout=10)
    workers: list[WorkerProcess] = []
    app = f"{module.__name__}:app"
    try:
        for _ in range(2):
            w = start_worker(app, cwd=directory, queues=[name])
            workers.append(w)
            w.wait_ready(60)
        started = time.monotonic()
        module.record.apply_async(args=["long-1"], kwargs={"seconds": seconds})
        _wait(lambda: client.llen(f"{name}:runs") >= 1, 60, "the long task to start")
        _wait(lambda: client.hlen(f"{name}:unacked") == 0, seconds + 120, "the long task's ack")
        took = time.monotonic() - started
        time.sleep(35)  # a copy restored late would run now
        runs = client.llen(f"{name}:runs")
        return {"check": "long_task", "task_s": seconds, "visibility_timeout_s": visibility,
                "took_s": round(took, 1), "runs": runs}  # fmt: skip
    finally:
        _cleanup(client, name, module, workers)
        client.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=2, help="recovery trials per pool")
    parser.add_argument("--task-seconds", type=float, default=120.0)
    parser.add_argument("--visibility-timeout", type=float, default=30.0)
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/0")
    args = parser.parse_args(argv)
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        for pool in ("solo", "prefork"):
            for _ in range(args.trials):
                results.append(recovery(args.redis_url, Path(tmp), pool))
                print(json.dumps(results[-1]), flush=True)
        results.append(
            long_task(args.redis_url, Path(tmp), args.task_seconds, args.visibility_timeout)
        )
        print(json.dumps(results[-1]), flush=True)
    recoveries = [r["kill_to_rerun_s"] for r in results if r["check"] == "recovery"]
    print(
        json.dumps(
            {
                "name": "orphan_recovery",
                "kill_to_rerun_max_s": max(recoveries),
                "kill_to_rerun_min_s": min(recoveries),
                "long_task_runs": results[-1]["runs"],
            }
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
