"""periodic_task: a periodic function as a Celery task that never overlaps itself.

Real worker processes (thread pool, 4 at once, so an overlap *could* happen) on the
embedded server and on the real Redis.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import redis
from _periodic_app import JobsStack, jobs_stack
from celery import Celery

from queue2celery.celery_tasks.periodic import SKIPPED, lock_key, periodic_task
from queue2celery.errors import ConfigError

pytestmark = pytest.mark.worker


@pytest.fixture(scope="module", params=["embedded", pytest.param("redis", marks=pytest.mark.redis)])
def jobs(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[JobsStack]:
    with jobs_stack(request, tmp_path_factory.mktemp("jobs"), backend=request.param) as stack:
        yield stack


def _lock_gone(jobs: JobsStack, task: Any) -> Callable[[], bool]:
    return lambda: not jobs.client().exists(lock_key(jobs.module.app, task.name))


def test_sync_and_async_functions_run_with_their_arguments(jobs: JobsStack) -> None:
    assert jobs.module.cleanup_expired_sessions.delay(days=3).get(timeout=20) == 3
    assert jobs.module.refresh_cache.delay("华东").get(timeout=20) == "华东".upper()
    runs = {run["job"]: run["args"] for run in jobs.runs()[-2:]}
    assert runs == {"cleanup": [3, 0.0], "refresh": ["华东"]}


def test_a_tick_that_finds_the_previous_run_going_is_skipped_not_queued(
    jobs: JobsStack, wait_until: Callable[..., Any]
) -> None:
    task = jobs.module.cleanup_expired_sessions
    before = len(jobs.runs())
    slow = task.delay(days=1, seconds=2.0)
    key = lock_key(jobs.module.app, task.name)
    # The key carries the app's global_keyprefix, like every key kombu writes.
    assert key.startswith(f"{jobs.name}:")
    assert wait_until(lambda: jobs.client().exists(key), timeout=10)
    skipped = task.delay(days=2)
    assert wait_until(lambda: skipped.state == SKIPPED, timeout=10), skipped.state
    assert slow.get(timeout=20) == 1
    # The skipped tick never ran, not even after the slow one ended.
    time.sleep(0.5)
    assert [run["args"] for run in jobs.runs()[before:]] == [[1, 2.0]]
    assert wait_until(_lock_gone(jobs, task), timeout=5)
    assert "skipped" in (jobs.worker.log() if jobs.worker else "")
    # The lock is free again: the next tick runs.
    assert task.delay(days=4).get(timeout=20) == 4


def test_a_run_longer_than_the_lock_ttl_keeps_its_lock(
    jobs: JobsStack, wait_until: Callable[..., Any]
) -> None:
    task = jobs.module.cleanup_expired_sessions  # lock_ttl=3
    slow = task.delay(days=5, seconds=4.5)
    key = lock_key(jobs.module.app, task.name)
    assert wait_until(lambda: jobs.client().exists(key), timeout=10)
    time.sleep(3.5)  # past the TTL: only renewal keeps the lock
    late = task.delay(days=6)
    assert wait_until(lambda: late.state == SKIPPED, timeout=10), late.state
    assert slow.get(timeout=20) == 5
    starts = sorted((r["start"], r["end"]) for r in jobs.runs() if r["job"] == "cleanup")
    for (_, end), (start, _) in zip(starts, starts[1:], strict=False):
        assert start >= end, "two runs of the same job overlapped"


def test_a_killed_workers_lock_frees_within_its_ttl(
    request: pytest.FixtureRequest, tmp_path: Any, wait_until: Callable[..., Any]
) -> None:
    with jobs_stack(request, tmp_path, backend="embedded") as stack:
        task = stack.module.cleanup_expired_sessions  # lock_ttl=3
        task.delay(days=1, seconds=30)
        key = lock_key(stack.module.app, task.name)
        assert wait_until(lambda: stack.client().exists(key), timeout=10)
        assert stack.worker is not None
        stack.worker.kill()
        killed = time.monotonic()
        assert wait_until(_lock_gone(stack, task), timeout=6)
        assert time.monotonic() - killed <= 3.5


def test_lock_key_honours_the_global_keyprefix() -> None:
    app = Celery("k", broker="redis://127.0.0.1:1/0")
    assert lock_key(app, "jobs.x") == "q2c:periodic-lock:jobs.x"
    app.conf.broker_transport_options = {"global_keyprefix": "tenant1:"}
    assert lock_key(app, "jobs.x") == "tenant1:q2c:periodic-lock:jobs.x"


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"name": "", "lock_ttl": 5}, "needs a task name"),
        ({"name": "j", "lock_ttl": 0}, "lock_ttl must be a positive"),
        ({"name": "j", "lock_ttl": "60"}, "lock_ttl must be a positive"),
        ({"name": "j", "bind": False}, "sets 'bind' itself"),
    ],
)
def test_bad_options_fail_with_one_line(kwargs: dict[str, Any], message: str) -> None:
    app = Celery("bad", broker="redis://127.0.0.1:1/0")
    with pytest.raises(ConfigError, match=message) as info:
        periodic_task(app, shared=False, **kwargs)
    assert "\n" not in str(info.value)


def test_a_non_redis_broker_is_refused_at_run_time() -> None:
    app = Celery("amqp", broker="amqp://guest@127.0.0.1:1//")
    task = periodic_task(app, name="amqp.job", shared=False)(lambda: 1)
    with pytest.raises(ConfigError, match="lock in Redis"):
        task.apply().get()


def test_skipped_when_locked_also_in_process(jobs: JobsStack) -> None:
    # Called in process (task.apply) the same lock applies: one guard, whoever runs it.
    task = jobs.module.cleanup_expired_sessions
    client = redis.Redis.from_url(jobs.url, socket_timeout=5)
    key = lock_key(jobs.module.app, task.name)
    client.set(key, "someone-else", px=3000)
    try:
        result = task.apply(kwargs={"days": 9})
        assert result.state == "IGNORED"
    finally:
        client.delete(key)


def test_a_tick_is_acked_on_receipt_unless_asked_otherwise() -> None:
    # A tick whose worker died must not come back after the visibility timeout, late.
    app = Celery("acks", broker="redis://127.0.0.1:1/0", set_as_current=False)
    app.conf.task_acks_late = True
    early = periodic_task(app, name="acks.early", shared=False)(lambda: None)
    late = periodic_task(app, name="acks.late", shared=False, acks_late=True)(lambda: None)
    assert early.acks_late is False
    assert late.acks_late is True
