"""Each kind of queue an app has, adopted: what stays in process and what reaches the broker.

No worker here: the messages are read back from the (embedded) broker's lists, which is
exactly what a worker would receive.
"""

from __future__ import annotations

import asyncio
import base64
import json
import queue
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
import redis

from queue2celery import embedded_redis
from queue2celery.celery_tasks import make_celery_app
from queue2celery.compat import CompatQueue, Rollout
from queue2celery.errors import ConfigError
from queue2celery.legacy_queue import TaskQueue, adopt


def process_job(job: Any) -> Any:
    return job


@dataclass
class Job:
    kind: str
    n: int


@pytest.fixture(scope="module")
def url() -> Iterator[str]:
    with embedded_redis() as found:
        yield found


@pytest.fixture
def app(url: str, unique_name: str) -> Iterator[Any]:
    celery_app = make_celery_app(unique_name, broker_url=url, result_backend=url)
    celery_app.conf.task_default_queue = unique_name
    yield celery_app
    celery_app.close()


def _messages(compat: CompatQueue) -> list[tuple[Any, int | None]]:
    """(the task's argument, its priority) for every message waiting, in the order sent."""
    client = redis.Redis.from_url(str(compat.app.conf.broker_url))
    found = []
    for task in compat.tasks.values():
        for key in compat.sender.queue_keys(task):
            for raw in reversed(client.lrange(key, 0, -1)):
                message = json.loads(raw)
                args = json.loads(base64.b64decode(message["body"]))[0]
                found.append((args[0], message["properties"].get("priority")))
    client.close()
    return found


def _compat(target: Any, app: Any, rollout: Rollout, **kwargs: Any) -> CompatQueue:
    return CompatQueue(
        adopt(target, run=process_job, **kwargs), app, rollout=rollout, refresh_interval=60
    )


@pytest.mark.parametrize(
    ("make", "order"),
    [
        (queue.Queue, [1, 2, 3]),
        (queue.LifoQueue, [3, 2, 1]),
        (queue.SimpleQueue, [1, 2, 3]),
    ],
    ids=["Queue", "LifoQueue", "SimpleQueue"],
)
def test_thread_queues_keep_their_own_order_for_the_apps_consumers(
    app: Any, make: Any, order: list[int]
) -> None:
    compat = _compat(make(), app, Rollout.all_legacy())
    try:
        for n in (1, 2, 3):
            assert compat.put({"n": n}) is None
        assert compat.qsize() == 3 and not compat.empty() and not compat.full()
        assert [compat.get(timeout=1)["n"] for _ in range(3)] == order
        with pytest.raises(queue.Empty):
            compat.get_nowait()
        if make is not queue.SimpleQueue:
            for _ in range(3):
                compat.task_done()
            compat.join(timeout=5)
    finally:
        compat.close()


@pytest.mark.parametrize("make", [queue.Queue, queue.LifoQueue, queue.SimpleQueue])
def test_thread_queues_send_the_item_itself_to_celery(app: Any, make: Any) -> None:
    compat = _compat(make(), app, Rollout.all_celery())
    try:
        handle = compat.put({"n": 1, "kind": "resize"})
        assert handle.backend == "celery"
        # The app's consumers see their own queue: empty; the message waits in Redis.
        assert compat.empty() and compat.qsize() == 0 and compat.celery_qsize() == 1
        assert [m[0] for m in _messages(compat)] == [{"n": 1, "kind": "resize"}]
    finally:
        compat.close()


@pytest.mark.parametrize(
    "entries",
    [[(9, "a"), (0, "b"), (3, "c")], [(9, 0, "a"), (0, 1, "b"), (3, 2, "c")]],
    ids=["(p, item)", "(p, seq, item)"],
)
def test_priority_entries_split_into_priority_and_item(app: Any, entries: list[Any]) -> None:
    legacy = _compat(queue.PriorityQueue(), app, Rollout.all_legacy())
    celery = _compat(queue.PriorityQueue(), app, Rollout.all_celery())
    try:
        for entry in entries:
            legacy.put(entry)
            celery.put(entry)
        # In process: the app's own entries, in the PriorityQueue's order.
        assert [legacy.get_nowait() for _ in entries] == sorted(entries)
        # On Celery: the item alone, with the legacy priority as Celery's (0 first).
        assert sorted(_messages(celery), key=lambda m: m[0]) == [("a", 9), ("b", 0), ("c", 3)]
    finally:
        legacy.close()
        celery.close()


def test_priorities_outside_0_9_warn_once_naming_them(
    app: Any, caplog: pytest.LogCaptureFixture
) -> None:
    compat = _compat(queue.PriorityQueue(), app, Rollout.all_celery())
    try:
        with caplog.at_level("WARNING", logger="queue2celery.compat"):
            compat.put((12, "x"))
            compat.put((12, "y"))
            compat.put((-1, "z"))
        outside = [r.getMessage() for r in caplog.records if "outside" in r.getMessage()]
        assert len(outside) == 2
        assert "legacy priority 12" in outside[0] and "sent as 9" in outside[0]
        assert "legacy priority -1" in outside[1] and "sent as 0" in outside[1]
        shared = [r.getMessage() for r in caplog.records if "priority step" in r.getMessage()]
        assert not shared
        caplog.clear()
        with caplog.at_level("WARNING", logger="queue2celery.compat"):
            compat.put((1, "p1"))
            compat.put((2, "p2"))
        assert any(
            "[0, 1, 2]" in r.getMessage() or "[1, 2]" in r.getMessage() for r in caplog.records
        )
    finally:
        compat.close()


def test_an_asyncio_queue_keeps_its_awaitable_convention(app: Any) -> None:
    async def scenario() -> None:
        legacy = _compat(asyncio.Queue(), app, Rollout.all_legacy())
        celery = _compat(asyncio.Queue(), app, Rollout.all_celery())
        try:
            assert await legacy.put({"n": 1}) is None
            legacy.put_nowait({"n": 2})
            assert await legacy.get() == {"n": 1}
            assert legacy.get_nowait() == {"n": 2}
            legacy.task_done()
            legacy.task_done()
            await asyncio.wait_for(legacy.join(timeout=5), 5)
            handle = await celery.put({"n": 3})
            assert handle.backend == "celery"
            assert [m[0] for m in _messages(celery)] == [{"n": 3}]
            await celery.put(None)  # the sentinel
            assert celery.get_nowait() is None
        finally:
            legacy.close()
            celery.close()

    asyncio.run(scenario())


def test_an_asyncio_priority_queue_splits_its_entries(app: Any) -> None:
    async def scenario() -> None:
        compat = _compat(asyncio.PriorityQueue(), app, Rollout.all_celery())
        try:
            await compat.put((4, "job"))
            assert _messages(compat) == [("job", 4)]
        finally:
            compat.close()

    asyncio.run(scenario())


def test_the_sentinel_and_a_custom_one_are_put_locally(app: Any) -> None:
    stop = object()
    compat = _compat(queue.Queue(), app, Rollout.all_celery(), sentinel=stop)
    try:
        compat.put(stop)
        assert compat.get_nowait() is stop
        assert _messages(compat) == []
    finally:
        compat.close()


def test_handlers_are_read_live_and_each_is_a_task(app: Any) -> None:
    handlers: dict[str, Any] = {}
    compat = CompatQueue(
        adopt(queue.Queue(), handlers=handlers, route=lambda j: j["type"], name="jobs"),
        app,
        rollout=Rollout.all_celery(),
        refresh_interval=60,
    )
    try:
        assert compat.tasks == {}
        handlers["resize"] = process_job  # registered after the queue was built
        compat.put({"type": "resize", "payload": {"w": 10}})
        assert "jobs.resize" in compat.tasks and "jobs.resize" in app.tasks
        with pytest.raises(ConfigError, match=r"route returned 'crop'.*known handlers: 'resize'"):
            compat.put({"type": "crop"})
    finally:
        compat.close()


def test_a_plain_queue_given_to_compat_queue_says_to_adopt_it(app: Any) -> None:
    with pytest.raises(ConfigError, match=r"adopt\(queue, run=\.\.\.\)"):
        CompatQueue(queue.Queue(), app)  # type: ignore[arg-type]


def test_get_on_a_task_queue_compat_explains_itself(app: Any) -> None:
    task_queue = TaskQueue()
    task_queue.add_handler("t_get", process_job)
    compat = CompatQueue(task_queue, app, rollout=Rollout.all_legacy(), refresh_interval=60)
    try:
        with pytest.raises(ConfigError, match="for adopted queues"):
            compat.get()
    finally:
        compat.close()


def test_put_many_on_an_adopted_queue_keeps_every_entry(app: Any) -> None:
    compat = _compat(queue.PriorityQueue(), app, Rollout.all_celery(), types=[Job])
    try:
        handles = compat.put_many([(1, Job("a", 1)), (2, Job("b", 2))])
        assert len(handles) == 2
        args = sorted(m[0]["n"] for m in _messages(compat))
        assert args == [1, 2]
    finally:
        compat.close()


def test_a_broker_outage_with_on_broker_error_legacy_puts_the_apps_own_entry(
    unique_name: str, free_port: int
) -> None:
    dead = f"redis://127.0.0.1:{free_port}/0"  # nothing listens there
    dead_app = make_celery_app(unique_name, broker_url=dead, result_backend=dead)
    local: queue.PriorityQueue[Any] = queue.PriorityQueue()
    compat = CompatQueue(
        adopt(local, run=process_job, types=[Job]),
        dead_app,
        rollout=Rollout.all_celery(),
        on_broker_error="legacy",
        broker_timeout=0.5,
        refresh_interval=60,
    )
    try:
        entry = (3, Job("resize", 1))
        compat.put(entry)
        # Not the encoded item: the very entry the app put, for its own consumer.
        assert local.get_nowait() is entry
    finally:
        compat.close()
        dead_app.close()
