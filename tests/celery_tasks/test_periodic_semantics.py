"""APScheduler's misfire_grace_time and coalesce, each next to its Beat equivalent.

  APScheduler                     Beat (queue2celery)
  misfire_grace_time=G            periodic_task(..., expires=G): a tick no worker starts
                                  within G s of being sent is discarded (REVOKED)
  coalesce=True (a gap of k       beat by design: the last run time lives in Redis, and a
  missed runs -> one run)         beat back after a gap sends one tick, not k
  coalesce=False                  no equivalent: beat never replays missed ticks
  max_instances=1                 periodic_task's lock: a tick that finds the previous run
                                  going is skipped (test_periodic.py, test_beat.py)

Each pair runs the same scenario: the APScheduler job in process, the Celery task on a real
worker fed by a real beat.
"""

from __future__ import annotations

import contextlib
import importlib
import json
import sys
import textwrap
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
import redis
from apscheduler.events import EVENT_JOB_EXECUTED, EVENT_JOB_MISSED, JobExecutionEvent
from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.schedulers.background import BackgroundScheduler

from queue2celery import embedded_redis
from queue2celery.celery_tasks import WorkerProcess, start_worker
from queue2celery.celery_tasks.beat import BeatOptions, BeatProcess, start_beat

pytestmark = [pytest.mark.worker]

GRACE = 1  # APScheduler takes whole seconds
SLACK = 0.3  # process start-up of a run, clock reads

JOBS = '''
"""每秒一次的定时任务, 和一个占住 worker 的慢任务."""

import json
import os
import time

import redis
from celery import current_task

from queue2celery.celery_tasks import make_celery_app
from queue2celery.celery_tasks.periodic import periodic_task

NAME = "{name}"
app = make_celery_app(
    NAME, broker_transport_options={{"global_keyprefix": NAME + ":"}}, task_default_queue=NAME
)
app.conf.beat_schedule = {{"tick": {{"task": NAME + ".tick", "schedule": 1.0}}}}
_redis = redis.Redis.from_url(os.environ["REDIS_URL"], socket_timeout=5)


@periodic_task(app, name=NAME + ".tick", lock_ttl=10, expires={grace}, shared=False)
def tick():
    # expires = 发送时间 + grace: 由此得出这次 tick 的发送时间
    expires = current_task.request.expires
    _redis.rpush(NAME + ":ticks", json.dumps({{"start": time.time(), "expires": expires}}))


@app.task(name=NAME + ".blocker", shared=False)
def blocker(seconds):
    started = time.time()
    time.sleep(seconds)
    _redis.rpush(NAME + ":blocks", json.dumps([started, time.time()]))
'''


class Stack:
    def __init__(self, url: str, name: str, module: Any, directory: Path) -> None:
        self.url, self.name, self.module, self.directory = url, name, module, directory
        self.client = redis.Redis.from_url(url, socket_timeout=5)

    def ticks(self) -> list[dict[str, Any]]:
        return [json.loads(raw) for raw in self.client.lrange(f"{self.name}:ticks", 0, -1)]

    def blocks(self) -> list[list[float]]:
        return [json.loads(raw) for raw in self.client.lrange(f"{self.name}:blocks", 0, -1)]

    def beat(self) -> BeatProcess:
        return start_beat(
            f"{self.module.__name__}:app",
            cwd=self.directory,
            env={"REDIS_URL": self.url},
            options=BeatOptions(lock_timeout=3, max_interval=1),
        )

    def worker(self, pool: str) -> WorkerProcess:
        worker = start_worker(
            f"{self.module.__name__}:app",
            cwd=self.directory,
            env={"REDIS_URL": self.url},
            pool=pool,
            concurrency=1 if pool == "solo" else 4,
            queues=[self.name],
        )
        worker.wait_ready(60)
        return worker


@pytest.fixture
def stack(tmp_path: Path) -> Iterator[Stack]:
    # The embedded server only: these check Celery's and redbeat's semantics, which do not
    # depend on the server; test_beat.py runs beat on both.
    with contextlib.ExitStack() as exit_stack:
        url = exit_stack.enter_context(embedded_redis())
        name = f"q2ctest-{uuid.uuid4().hex[:10]}"
        module_name = name.replace("-", "_") + "_sem"
        source = textwrap.dedent(JOBS.format(name=name, grace=GRACE))
        (tmp_path / f"{module_name}.py").write_text(source, encoding="utf-8")
        with pytest.MonkeyPatch.context() as mp:
            mp.setenv("REDIS_URL", url)
            mp.syspath_prepend(str(tmp_path))
            module = importlib.import_module(module_name)
        exit_stack.callback(sys.modules.pop, module_name, None)
        exit_stack.callback(module.app.close)
        result = Stack(url, name, module, tmp_path)
        exit_stack.callback(_delete_keys, result.client, name)
        yield result


def _delete_keys(client: redis.Redis, prefix: str) -> None:
    keys = list(client.scan_iter(match=f"{prefix}*", count=1000))
    if keys:
        client.delete(*keys)


@contextlib.contextmanager
def _running(*processes: WorkerProcess) -> Iterator[None]:
    try:
        yield
    finally:
        for process in processes:
            process.stop()


# --- misfire_grace_time ----------------------------------------------------------------


def test_apscheduler_misfire_grace_time_skips_runs_that_start_too_late() -> None:
    starts: list[tuple[float, float]] = []  # (started, scheduled)
    missed: list[JobExecutionEvent] = []
    scheduler = BackgroundScheduler(executors={"default": ThreadPoolExecutor(1)})

    def tick() -> None:
        starts.append((time.time(), 0.0))

    def on_event(event: JobExecutionEvent) -> None:
        if event.job_id != "tick":
            return
        if event.code == EVENT_JOB_MISSED:
            missed.append(event)
        else:
            lateness = time.time() - event.scheduled_run_time.timestamp()
            starts[-1] = (starts[-1][0], lateness)

    scheduler.add_listener(on_event, EVENT_JOB_EXECUTED | EVENT_JOB_MISSED)
    # max_instances above 1: the ticks waiting for the thread are judged by the grace alone.
    scheduler.add_job(
        tick, "interval", seconds=1, id="tick", misfire_grace_time=GRACE, max_instances=10
    )
    scheduler.start()
    try:
        time.sleep(1.5)
        # The only executor thread is busy for 4 s, as a busy worker would be.
        scheduler.add_job(time.sleep, args=[4], id="blocker")
        time.sleep(6)
    finally:
        scheduler.shutdown(wait=True)
    assert len(missed) >= 2, "ticks queued behind the blocker were not skipped"
    assert all(late <= GRACE + 1.0 for _, late in starts)  # lateness incl. the tick's run


def test_beat_expires_discards_ticks_no_worker_starts_within_the_grace(
    stack: Stack, wait_until: Callable[..., Any]
) -> None:
    worker = stack.worker("solo")  # one run at a time, like the single executor thread
    beat = stack.beat()
    with _running(beat, worker):
        beat.wait_ready(30)
        assert wait_until(lambda: len(stack.ticks()) >= 2, timeout=20), beat.log()[-2000:]
        stack.module.blocker.delay(4.0)
        assert wait_until(lambda: stack.blocks(), timeout=20)
        blocked_from, blocked_to = stack.blocks()[0]
        assert wait_until(lambda: any(t["start"] > blocked_to for t in stack.ticks()), timeout=10)
        log = worker.log()
    ticks = stack.ticks()
    for tick in ticks:
        sent = datetime.fromisoformat(tick["expires"]).timestamp() - GRACE
        assert tick["start"] - sent <= GRACE + SLACK, f"a tick ran {tick['start'] - sent:.2f}s late"
    # About four ticks were sent while the worker was busy: they expired, none ran late.
    assert log.count("Discarding revoked task") >= 2, log[-3000:]
    assert not any(blocked_from < t["start"] < blocked_to for t in ticks)


# --- coalesce --------------------------------------------------------------------------


def _apscheduler_runs_after_gap(coalesce: bool) -> int:
    """How many runs that came due during a pause ran after it (scheduled before, run after)."""
    caught_up: list[datetime] = []
    resumed_at: list[datetime] = []
    scheduler = BackgroundScheduler()

    def on_executed(event: JobExecutionEvent) -> None:
        if resumed_at and event.scheduled_run_time < resumed_at[0]:
            caught_up.append(event.scheduled_run_time)

    scheduler.add_listener(on_executed, EVENT_JOB_EXECUTED)
    scheduler.add_job(
        lambda: None,
        "interval",
        seconds=1,
        coalesce=coalesce,
        misfire_grace_time=None,  # no run is late enough to be skipped: only coalesce acts
        next_run_time=datetime.now(timezone.utc) + timedelta(seconds=0.2),
    )
    scheduler.start()
    try:
        time.sleep(1.3)
        scheduler.pause()
        time.sleep(2.6)  # two or three runs come due while nothing runs
        resumed_at.append(datetime.now(timezone.utc))
        scheduler.resume()
        time.sleep(0.3)
    finally:
        scheduler.shutdown(wait=True)
    return len(caught_up)


def test_apscheduler_coalesce_runs_a_gap_once_and_without_it_once_per_missed_run() -> None:
    assert _apscheduler_runs_after_gap(coalesce=True) == 1
    assert _apscheduler_runs_after_gap(coalesce=False) >= 2


def test_beat_back_after_a_gap_runs_once_like_coalesce(
    stack: Stack, wait_until: Callable[..., Any]
) -> None:
    worker = stack.worker("threads")
    first = stack.beat()
    with _running(worker):
        with _running(first):
            first.wait_ready(30)
            assert wait_until(lambda: len(stack.ticks()) >= 2, timeout=20)
        stopped = time.time()
        time.sleep(2.5)  # two ticks come due while no beat runs
        second = stack.beat()
        with _running(second):
            second.wait_ready(30)
            assert wait_until(
                lambda: len([t for t in stack.ticks() if t["start"] > stopped]) >= 2, timeout=10
            )
    sent = sorted(
        datetime.fromisoformat(t["expires"]).timestamp() - GRACE
        for t in stack.ticks()
        if t["start"] > stopped
    )
    # The missed ticks come back as one: the next is a whole interval later, not at once.
    assert sent[0] - stopped >= 2.0, "a tick was sent while no beat was running"
    assert sent[1] - sent[0] >= 0.8, f"missed ticks were replayed: {sent}"
