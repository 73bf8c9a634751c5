"""Issue 14 findings on the send side: each test failed on the code before its fix.

Frozen Redis on the apply_async path (task_routes, global_keyprefix, compression, publish
signals), the spool under global_keyprefix, a payload too large or too deep, and join()
with tasks still in the spool. Private ``redis-server`` processes only; no worker needed:
what lands in Redis is read back directly.
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import redis
from _reliability import report

from queue2celery.celery_tasks import make_celery_app
from queue2celery.compat import CompatQueue, Rollout, Spool
from queue2celery.errors import BrokerUnavailable, PayloadError
from queue2celery.legacy_queue import TaskQueue

pytestmark = pytest.mark.reliability

# The four app settings that send a CompatQueue down Celery's apply_async path.
SLOW_PATHS = {
    "task_routes": {"task_routes": {"*.echo": {"queue": "{name}"}}},
    "global_keyprefix": {"broker_transport_options": {"global_keyprefix": "pfx:"}},
    "compression": {"task_compression": "gzip"},
}


class _Stack:
    def __init__(self, url: str, setting: str | None, **kwargs: Any) -> None:
        self.name = f"q2ctest-{uuid.uuid4().hex[:10]}"
        overrides = json.loads(
            json.dumps(SLOW_PATHS.get(setting or "", {})).replace("{name}", self.name)
        )
        self.app = make_celery_app(self.name, broker_url=url, result_backend=url, **overrides)
        self.app.conf.task_default_queue = self.name
        self.ran: list[Any] = []
        self.task_queue = TaskQueue(workers=1)

        @self.task_queue.handler(f"{self.name}.echo")
        def echo(item: Any) -> Any:
            self.ran.append(item)
            return item

        kwargs.setdefault("rollout", Rollout.all_celery())
        self.cq = CompatQueue(self.task_queue, self.app, namespace=self.name, **kwargs)
        self.client = redis.Redis.from_url(url, socket_timeout=5)
        self.prefix = "pfx:" if setting == "global_keyprefix" else ""

    def queued_ids(self) -> list[str]:
        messages = self.client.lrange(self.prefix + self.name, 0, -1)
        return [json.loads(m)["headers"]["id"] for m in messages]

    def close(self) -> None:
        self.cq.close()
        self.task_queue.stop()
        self.client.close()
        self.app.close()


@pytest.fixture
def stack_factory() -> Iterator[Callable[..., _Stack]]:
    made: list[_Stack] = []

    def _make(url: str, setting: str | None, **kwargs: Any) -> _Stack:
        made.append(_Stack(url, setting, **kwargs))
        return made[-1]

    yield _make
    for stack in made:
        stack.close()


def _wait(check: Callable[[], Any], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(0.05)


@pytest.mark.parametrize("setting", sorted(SLOW_PATHS))
def test_frozen_redis_on_the_apply_async_path_spools_a_task_that_is_queued_once(
    redis_server_factory, stack_factory, tmp_path: Path, setting: str
) -> None:
    server = redis_server_factory()
    s = stack_factory(server.url, setting, on_broker_error="spool", spool_path=tmp_path / "s.db")
    assert s.cq.sender.app_blocker is not None or s.cq.sender.blocker(s.cq.tasks[f"{s.name}.echo"])
    warm = s.cq.put({"n": 0})
    server.freeze()
    try:
        frozen = s.cq.put({"n": 1})
    finally:
        server.thaw()
    assert frozen.spooled
    _wait(lambda: not s.cq.ledger.replay_due, 20, "the spool replayed")
    ids = s.queued_ids()
    report({"test": f"frozen_spool_{setting}", "copies": ids.count(frozen.id)})
    assert ids.count(frozen.id) == 1, ids
    assert ids.count(warm.id) == 1, ids
    assert Spool(tmp_path / "s.db").count() == 0


@pytest.mark.parametrize("setting", sorted(SLOW_PATHS))
def test_frozen_redis_on_the_apply_async_path_never_runs_a_task_in_process_and_in_celery(
    redis_server_factory, stack_factory, setting: str
) -> None:
    server = redis_server_factory()
    s = stack_factory(server.url, setting, on_broker_error="legacy")
    s.cq.put({"n": 0})
    server.freeze()
    try:
        handles = [s.cq.put({"n": i}) for i in range(1, 4)]
        s.task_queue.join()
    finally:
        server.thaw()
    _wait(lambda: not s.cq.ledger.replay_due, 20, "the held task sent")
    time.sleep(0.3)  # anything written to the frozen socket has run by now
    queued = s.queued_ids()
    in_process = [item["n"] for item in s.ran]
    twice = sum((h.id in queued) and (n in in_process) for n, h in enumerate(handles, start=1))
    report({"test": f"frozen_legacy_{setting}", "ran_in_process_and_in_celery": twice})
    for n, handle in enumerate(handles, start=1):
        where = (handle.id in queued) + (n in in_process)
        assert where == 1, (n, handle, queued, in_process)
        assert queued.count(handle.id) <= 1


@pytest.mark.parametrize("setting", sorted(SLOW_PATHS))
def test_frozen_redis_on_the_apply_async_path_raise_never_says_nothing_when_one_is_queued(
    redis_server_factory, stack_factory, setting: str
) -> None:
    server = redis_server_factory()
    s = stack_factory(server.url, setting, on_broker_error="raise")
    s.cq.put({"n": 0})
    server.freeze()
    try:
        started = time.monotonic()
        with pytest.raises(BrokerUnavailable) as info:
            s.cq.put({"n": 1}, task_id="frozen-task-1")
        raised_after = time.monotonic() - started
        assert raised_after < 5.0
    finally:
        server.thaw()
    time.sleep(0.5)  # a publish written to the frozen socket runs now
    queued = s.queued_ids()
    said_nothing = "nothing was enqueued" in str(info.value)
    report(
        {
            "test": f"frozen_raise_{setting}",
            "raised_after_s": round(raised_after, 2),
            "queued_late": queued.count("frozen-task-1"),
            "says_maybe": info.value.maybe_sent,
        }
    )
    assert not (said_nothing and "frozen-task-1" in queued), str(info.value)
    # A retry with the same id, now that Redis is back, queues it exactly once.
    _wait(lambda: not s.cq.breaker.is_open, 10, "the breaker closed")
    s.cq.put({"n": 1}, task_id="frozen-task-1")
    assert s.queued_ids().count("frozen-task-1") == 1


def test_a_spool_under_global_keyprefix_is_replayed_to_the_prefixed_queue(
    redis_server_factory, stack_factory, tmp_path: Path
) -> None:
    server = redis_server_factory()
    s = stack_factory(
        server.url, "global_keyprefix", on_broker_error="spool", spool_path=tmp_path / "s.db"
    )
    s.cq.put({"n": 0})
    s.cq.close()  # replayed by hand below
    server.stop()
    handles = [s.cq.put({"n": i}) for i in range(1, 4)]
    assert all(h.spooled for h in handles)
    server.start()
    result = s.cq.sender.replay()
    assert result is not None and result.sent == 3
    assert s.client.llen(s.name) == 0, "replay pushed to the unprefixed key"
    assert s.queued_ids()[:3] == [h.id for h in reversed(handles)]
    # The sent markers are the broker's, under its prefix, like every other key.
    assert s.client.exists(*[f"pfx:q2c:sent:{h.id}" for h in handles]) == 3


@pytest.mark.parametrize("setting", [None, "task_routes"])
def test_a_too_large_payload_is_a_payload_error_and_never_opens_the_breaker(
    redis_server_factory, stack_factory, setting: str | None
) -> None:
    server = redis_server_factory()
    s = stack_factory(server.url, setting)
    big = {"blob": "x" * (17 * 1024 * 1024)}  # over the default 16 MiB
    started = time.monotonic()
    with pytest.raises(PayloadError) as info:
        s.cq.put(big)
    elapsed = time.monotonic() - started
    report({"test": f"payload_17mib_{setting}", "payload_error_after_s": round(elapsed, 2)})
    assert elapsed < 5.0
    assert "max_payload_bytes" in str(info.value) and "nothing was enqueued" in str(info.value)
    assert not s.cq.breaker.is_open
    assert s.cq.put({"small": 1}).backend == "celery"
    assert len(s.queued_ids()) == 1
    # The limit is configurable.
    s2 = stack_factory(server.url, setting, max_payload_bytes=64 * 1024 * 1024)
    assert s2.cq.put(big).backend == "celery"


@pytest.mark.parametrize("setting", [None, "task_routes"])
def test_a_payload_nested_ten_thousand_levels_is_a_payload_error(
    redis_server_factory, stack_factory, setting: str | None
) -> None:
    server = redis_server_factory()
    s = stack_factory(server.url, setting)
    deep: Any = "leaf"
    for _ in range(10_000):
        deep = {"k": deep}
    with pytest.raises(PayloadError) as info:
        s.cq.put(deep)
    assert "nested deeper" in str(info.value)
    assert s.queued_ids() == [] and not s.cq.breaker.is_open


def test_join_waits_for_a_task_still_in_the_spool(
    redis_server_factory, stack_factory, tmp_path: Path
) -> None:
    server = redis_server_factory()
    s = stack_factory(server.url, None, on_broker_error="spool", spool_path=tmp_path / "s.db")
    warm = s.cq.put({"n": 0})
    server.stop()
    spooled = s.cq.put({"n": 1})
    assert spooled.spooled
    started = time.monotonic()
    s.cq.join(timeout=1.0)
    # join did not return at once while the task sits in the spool; it honoured its bound.
    assert 0.9 <= time.monotonic() - started < 3.0
    done = threading.Event()
    threading.Thread(target=lambda: (s.cq.join(timeout=30), done.set()), daemon=True).start()
    time.sleep(0.5)
    assert not done.is_set()
    server.start()
    # Replayed; the result is written as a worker would, and join returns.
    _wait(lambda: not s.cq.ledger.replay_due, 20, "the spool replayed")
    assert not done.is_set()
    assert s.queued_ids() == [spooled.id]  # (the server kept no data over its restart)
    for task_id in (warm.id, spooled.id):
        s.app.backend.store_result(task_id, None, "SUCCESS")
    assert done.wait(10)


def test_a_spool_written_before_the_prefix_column_still_replays(
    redis_server_factory, tmp_path: Path
) -> None:
    import sqlite3

    path = tmp_path / "old.sqlite3"
    with sqlite3.connect(path) as conn:
        conn.execute(
            "CREATE TABLE outbox (seq INTEGER PRIMARY KEY AUTOINCREMENT, task_id TEXT NOT NULL "
            "UNIQUE, task_name TEXT NOT NULL, queue_key TEXT NOT NULL, message TEXT NOT NULL, "
            "created_at REAL NOT NULL, claimed_by TEXT, claimed_at REAL)"
        )
        conn.execute(
            "INSERT INTO outbox (task_id, task_name, queue_key, message, created_at) "
            "VALUES ('old-1', 't', 'oldq', '{}', 0)"
        )
    server = redis_server_factory()
    client = redis.Redis.from_url(server.url)
    result = Spool(path).replay(client)
    assert (result.sent, result.remaining) == (1, 0)
    assert client.llen("oldq") == 1 and client.exists("q2c:sent:old-1")
