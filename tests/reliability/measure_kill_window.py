"""Measure what a SIGKILL at a *random* moment costs (RELIABILITY.md quotes the figures).

Not a test (pytest does not collect it): the tests kill workers mid-task, which acks_late
makes safe. A kill at a random moment can also land between kombu's BRPOP (the message
leaves the queue list) and its unacked bookkeeping (the message is written to the unacked
hash), and then that one message is gone. This script counts how often, on the real Redis:

    .venv/bin/python tests/reliability/measure_kill_window.py [--trials N] [--tasks N]

Each trial: publish the tasks, start a solo worker, SIGKILL it after a random 1-3 s, start
a new one, wait until the queue and the unacked hash are empty, count runs by id.
Prints one line per trial and a JSON summary as the last line.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import tempfile
import time
import uuid
from pathlib import Path

import redis

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _reliability import RECORDING_APP, cleanup_keys, run_counts

from queue2celery.celery_tasks import start_worker


def _trial(url: str, tasks: int, directory: Path, rng: random.Random) -> dict[str, object]:
    name = f"q2ckill-{uuid.uuid4().hex[:10]}"
    module_name = name.replace("-", "_") + "_app"
    (directory / f"{module_name}.py").write_text(
        RECORDING_APP.format(
            name=name, broker_url=url, record_url=url, visibility_timeout=5.0, task_seconds=0.003
        ),
        encoding="utf-8",
    )
    sys.path.insert(0, str(directory))
    module = __import__(module_name)
    client = redis.Redis.from_url(url, socket_timeout=5)
    workers = []
    try:
        with module.app.producer_or_acquire() as producer:
            for i in range(tasks):
                module.record.apply_async(args=[f"item-{i}"], producer=producer)
        first = start_worker(f"{module_name}:app", cwd=directory, queues=[name])
        workers.append(first)
        first.wait_ready(60)
        time.sleep(rng.uniform(1.0, 3.0))
        first.kill()
        second = start_worker(f"{module_name}:app", cwd=directory, queues=[name])
        workers.append(second)
        second.wait_ready(60)
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            if client.llen(name) == 0 and client.hlen(f"{name}:unacked") == 0:
                break
            time.sleep(0.2)
        time.sleep(1.0)
        counts = run_counts(client, f"{name}:runs")
        lost = tasks - len(counts)
        duplicates = sum(n - 1 for n in counts.values())
        return {"lost": lost, "duplicates": duplicates}
    finally:
        for worker in workers:
            worker.stop()
        module.app.close()
        cleanup_keys(client, name)
        client.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=10)
    parser.add_argument("--tasks", type=int, default=1000)
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/0")
    parser.add_argument("--seed", type=int, default=8)
    args = parser.parse_args(argv)
    rng = random.Random(args.seed)
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        for n in range(args.trials):
            result = _trial(args.redis_url, args.tasks, Path(tmp), rng)
            results.append(result)
            print(f"trial {n + 1}: lost {result['lost']}, duplicates {result['duplicates']}")
    summary = {
        "name": "kill_window",
        "trials": args.trials,
        "tasks_per_trial": args.tasks,
        "kills": args.trials,
        "trials_with_a_loss": sum(1 for r in results if r["lost"]),
        "lost_total": sum(int(str(r["lost"])) for r in results),
        "duplicates_total": sum(int(str(r["duplicates"])) for r in results),
    }
    print(json.dumps(summary))
    return 0


if __name__ == "__main__":
    sys.exit(main())
