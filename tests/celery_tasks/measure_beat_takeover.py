"""Measure how long a standby beat takes to tick after the leader's SIGKILL.

    python tests/celery_tasks/measure_beat_takeover.py [--redis-url URL] [--trials N]
        [--lock-timeout S --max-interval S]

Not a test (the defaults take ~30 s a trial); RELIABILITY.md records its output. Each trial:
leader and standby beat over one worker, a tick every second; SIGKILL the leader at a random
point of its loop; time until the standby holds the lock and until its first tick runs;
count ticks sent twice (two runs less than 0.5 s apart).
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import os
import random
import statistics
import sys
import tempfile
import textwrap
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from _periodic_app import JOBS_MODULE, JobsStack, _delete_keys

from queue2celery import embedded_redis
from queue2celery.celery_tasks import start_worker
from queue2celery.celery_tasks.beat import BeatOptions, start_beat


def _wait(check, timeout: float) -> bool:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.02)
    return False


def trial(stack: JobsStack, options: BeatOptions) -> tuple[float, float, int]:
    env = {"REDIS_URL": stack.url}
    leader = start_beat(stack.app_spec, cwd=stack.directory, env=env, options=options)
    standby = start_beat(stack.app_spec, cwd=stack.directory, env=env, options=options)
    try:
        assert _wait(lambda: leader.holds_lock() or standby.holds_lock(), 60), "no leader"
        if standby.holds_lock():
            leader, standby = standby, leader
        time.sleep(2 + random.uniform(0, options.max_interval or 5))
        leader.kill()
        killed, killed_wall = time.monotonic(), time.time()
        timeout = 2 * (options.lock_timeout or 25) + 10
        assert _wait(standby.holds_lock, timeout), "the standby never took over"
        took = time.monotonic() - killed
        assert _wait(lambda: any(r["start"] > killed_wall for r in stack.runs()), 10)
        first_tick = min(r["start"] for r in stack.runs() if r["start"] > killed_wall)
        time.sleep(3)
        starts = sorted(r["start"] for r in stack.runs())
        doubles = sum(1 for a, b in zip(starts, starts[1:], strict=False) if b - a < 0.5)
        return took, first_tick - killed_wall, doubles
    finally:
        leader.stop()
        standby.stop()


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--redis-url")
    parser.add_argument("--trials", type=int, default=3)
    parser.add_argument("--lock-timeout", type=float)
    parser.add_argument("--max-interval", type=float)
    args = parser.parse_args()
    options = BeatOptions(lock_timeout=args.lock_timeout, max_interval=args.max_interval)
    with contextlib.ExitStack() as stack:
        url = args.redis_url or stack.enter_context(embedded_redis())
        directory = Path(stack.enter_context(tempfile.TemporaryDirectory()))
        name = f"q2cmeasure-{uuid.uuid4().hex[:8]}"
        module_name = name.replace("-", "_") + "_jobs"
        source = textwrap.dedent(JOBS_MODULE.format(name=name))
        # The schedule's own beat_max_loop_interval would hide the default being measured.
        source = source.replace("    beat_max_loop_interval=1,\n", "")
        (directory / f"{module_name}.py").write_text(source, encoding="utf-8")
        os.environ["REDIS_URL"] = url
        sys.path.insert(0, str(directory))
        module = importlib.import_module(module_name)
        stack.callback(_delete_keys, url, name)
        worker = start_worker(
            f"{module_name}:app",
            cwd=directory,
            env={"REDIS_URL": url},
            pool="threads",
            concurrency=4,
            queues=[name],
        )
        stack.callback(worker.stop)
        worker.wait_ready(60)
        jobs = JobsStack(url, name, module, directory, worker)
        results = [trial(jobs, options) for _ in range(args.trials)]
    locks = [r[0] for r in results]
    ticks = [r[1] for r in results]
    print(
        f"backend: {'real Redis' if args.redis_url else 'embedded'}; lock_timeout="
        f"{args.lock_timeout or 'default'} max_interval={args.max_interval or 'default'}"
    )
    print(
        f"lock taken after SIGKILL: min {min(locks):.1f}s median "
        f"{statistics.median(locks):.1f}s max {max(locks):.1f}s"
    )
    print(
        f"first tick after SIGKILL: min {min(ticks):.1f}s median "
        f"{statistics.median(ticks):.1f}s max {max(ticks):.1f}s"
    )
    print(f"ticks run twice: {sum(r[2] for r in results)} over {len(results)} trials")
    return 0


if __name__ == "__main__":
    sys.exit(main())
