"""CompatQueue sends what .delay() sends, faster, and a stock worker runs it."""

from __future__ import annotations

import asyncio
import json
import threading
import time
import uuid

import pytest

from queue2celery.celery_tasks.status import sent_key
from queue2celery.compat import CompatQueue, Rollout
from queue2celery.errors import PayloadError

pytestmark = pytest.mark.worker


def _compat(stack, **kwargs) -> CompatQueue:
    kwargs.setdefault("rollout", Rollout.all_celery())
    kwargs.setdefault("namespace", stack.name)
    return CompatQueue(stack.module.task_queue, stack.module.app, **kwargs)


def test_put_runs_on_the_worker_and_status_reads_the_result_backend(compat_stack) -> None:
    cq = _compat(compat_stack)
    try:
        handle = cq.put(compat_stack.item("echo", v={"files": ["a.mp4"], "n": 1}))
        assert handle.backend == "celery"
        assert uuid.UUID(handle.id).version == 4
        status = handle.wait(timeout=30)
        assert status == {
            "task_id": handle.id,
            "status": "SUCCESS",
            "result": {"files": ["a.mp4"], "n": 1},
            "error": None,
            "attempts": 1,
        }
        assert handle.status()["status"] == "SUCCESS"
        # The sent marker lets the status API tell this id from one nobody sent.
        assert compat_stack.client().exists(sent_key(handle.id)) == 1
    finally:
        cq.close()


def test_a_failing_handler_reports_failure_with_its_exception(compat_stack) -> None:
    cq = _compat(compat_stack)
    try:
        status = cq.put(compat_stack.item("fail", v=7)).wait(timeout=30)
        assert status["status"] == "FAILURE"
        assert status["error"] == {"type": "ValueError", "message": "boom 7"}
    finally:
        cq.close()


def test_the_pushed_message_is_byte_identical_to_apply_async(compat_stack) -> None:
    # No worker may take these: they go to a queue nobody consumes, read back with RPOP.
    app = compat_stack.module.app
    cq = _compat(compat_stack)
    client = compat_stack.client()
    queue = f"{compat_stack.name}-compare"
    old_queue = app.conf.task_default_queue
    app.conf.task_default_queue = queue
    app.amqp.__dict__.pop("queues", None)
    try:
        cq2 = _compat(compat_stack)
        task = cq2.tasks[compat_stack.h("echo")]
        item = compat_stack.item("echo", v={"when": "2024", "中文": [1, 2.5, None, True]})
        for priority in (0, 5):
            task_id = str(uuid.uuid4())
            task.apply_async(args=[item], task_id=task_id, priority=priority)
            # apply_async marked the id as sent, and a put never sends a sent id again.
            client.delete(sent_key(task_id))
            cq2.put(item, task_id=task_id, priority=priority)
            key = queue if priority == 0 else f"{queue}\x06\x163"
            theirs, ours = client.rpop(key), client.rpop(key)
            assert theirs is not None and ours is not None
            tag_theirs = json.loads(theirs)["properties"]["delivery_tag"]
            tag_ours = json.loads(ours)["properties"]["delivery_tag"]
            assert ours.replace(tag_ours.encode(), b"TAG") == theirs.replace(
                tag_theirs.encode(), b"TAG"
            )
        cq2.close()
    finally:
        app.conf.task_default_queue = old_queue
        app.amqp.__dict__.pop("queues", None)
        client.delete(queue, f"{queue}\x06\x163")
        cq.close()


def test_priorities_land_in_celerys_redis_priority_lists(compat_stack) -> None:
    app = compat_stack.module.app
    client = compat_stack.client()
    queue = f"{compat_stack.name}-prio"
    old_queue = app.conf.task_default_queue
    app.conf.task_default_queue = queue
    app.amqp.__dict__.pop("queues", None)
    cq = _compat(compat_stack)
    expected = {-5: "", 0: "", 1: "", 2: "", 3: "3", 5: "3", 6: "6", 8: "6", 9: "9", 42: "9"}
    try:
        for priority, suffix in expected.items():
            cq.put(compat_stack.item("echo", v=priority), priority=priority)
            key = queue if not suffix else f"{queue}\x06\x16{suffix}"
            message = json.loads(client.rpop(key))
            assert message["properties"]["priority"] == min(max(priority, 0), 9)
    finally:
        cq.close()
        app.conf.task_default_queue = old_queue
        app.amqp.__dict__.pop("queues", None)
        client.delete(*[queue + (f"\x06\x16{s}" if s else "") for s in ("", "3", "6", "9")])


def test_put_many_is_consumed_by_the_worker_like_single_sends(compat_stack, wait_until) -> None:
    cq = _compat(compat_stack)
    try:
        base = 100_000
        handles = cq.put_many([compat_stack.item("count", n=base + i) for i in range(200)])
        assert len({h.id for h in handles}) == 200
        assert all(h.backend == "celery" for h in handles)
        statuses = [h.wait(timeout=60) for h in handles]
        assert [s["result"] for s in statuses] == [base + i for i in range(200)]
        client = compat_stack.client()
        counts = client.mget([f"{compat_stack.name}:ran:{base + i}" for i in range(200)])
        assert counts == [b"1"] * 200
    finally:
        cq.close()


def test_put_many_enqueues_nothing_when_any_payload_is_refused(compat_stack) -> None:
    cq = _compat(compat_stack)
    client = compat_stack.client()
    try:
        items = [compat_stack.item("count", n=200_000 + i) for i in range(5)]
        items.append(compat_stack.item("count", n=200_005, files={"a", "b"}))
        with pytest.raises(PayloadError) as info:
            cq.put_many(items)
        assert info.value.path == 'payload["files"]'
        # Had any of the batch been sent, it would stand before this one in the queue.
        assert cq.put(compat_stack.item("count", n=200_006)).wait(timeout=60)["result"] == 200_006
        ran = client.mget([f"{compat_stack.name}:ran:{200_000 + i}" for i in range(6)])
        assert ran == [None] * 6
        assert cq.celery_qsize() == 0
    finally:
        cq.close()


def test_aput_does_not_block_the_event_loop(compat_stack) -> None:
    cq = _compat(compat_stack)
    loop_thread: list[int] = []
    send_threads: list[int] = []
    original = cq.sender.send

    def slow_send(batch):
        # A slow broker: the loop must keep ticking while this waits.
        send_threads.append(threading.get_ident())
        time.sleep(0.5)
        return original(batch)

    cq.sender.send = slow_send  # type: ignore[method-assign]

    async def main() -> tuple[int, object]:
        loop_thread.append(threading.get_ident())
        ticks = 0

        async def ticker() -> None:
            nonlocal ticks
            while True:
                await asyncio.sleep(0.01)
                ticks += 1

        task = asyncio.create_task(ticker())
        handle = await cq.aput(compat_stack.item("echo", v="async"))
        task.cancel()
        return ticks, handle

    try:
        ticks, handle = asyncio.run(main())
        assert ticks >= 20, f"the event loop ticked only {ticks} times during a 0.5 s send"
        assert send_threads and send_threads[0] != loop_thread[0]
        assert handle.wait(timeout=30)["result"] == "async"
    finally:
        cq.close()


def test_join_waits_for_celery_and_legacy_items(compat_stack) -> None:
    cq = _compat(compat_stack, rollout=Rollout.parse("50"))
    try:
        handles = [cq.put(compat_stack.item("echo", v=i)) for i in range(20)]
        assert {h.backend for h in handles} == {"legacy", "celery"}
        cq.join(timeout=60)
        assert all(h.status()["status"] == "SUCCESS" for h in handles)
        assert sorted(h.status()["result"] for h in handles) == list(range(20))
    finally:
        cq.close()


def test_with_a_publish_signal_connected_it_sends_through_apply_async(compat_stack) -> None:
    from celery import signals

    seen: list[str] = []

    def receiver(sender=None, headers=None, **_kwargs) -> None:
        seen.append(headers["id"])

    signals.before_task_publish.connect(receiver)
    try:
        cq = _compat(compat_stack)
        assert cq.sender.app_blocker is not None and "signal" in cq.sender.app_blocker
        handle = cq.put(compat_stack.item("echo", v="slow path"))
        assert seen == [handle.id]
        assert handle.wait(timeout=30)["result"] == "slow path"
        with pytest.raises(PayloadError) as info:
            cq.put(compat_stack.item("echo", v={"s": {1}}))
        assert info.value.path == 'payload["v"]["s"]'
        assert seen == [handle.id]
        cq.close()
    finally:
        signals.before_task_publish.disconnect(receiver)


def _publish_signal():
    from celery import signals

    def receiver(**_kwargs) -> None:
        return None

    signals.before_task_publish.connect(receiver)
    return receiver


def test_the_apply_async_path_pushes_exactly_what_celery_would(compat_stack) -> None:
    # With a publish signal connected, Celery's apply_async builds the message; the
    # queue pushes it itself (deadline and sent marker): the bytes must be Celery's.
    from celery import signals

    app = compat_stack.module.app
    client = compat_stack.client()
    queue = f"{compat_stack.name}-compare2"
    old_queue = app.conf.task_default_queue
    app.conf.task_default_queue = queue
    app.amqp.__dict__.pop("queues", None)
    receiver = _publish_signal()
    try:
        cq = _compat(compat_stack)
        assert cq.sender.app_blocker is not None
        task = cq.tasks[compat_stack.h("echo")]
        item = compat_stack.item("echo", v={"中文": [1, 2.5, None, True]})
        for priority in (0, 5):
            task_id = str(uuid.uuid4())
            task.apply_async(args=[item], task_id=task_id, priority=priority)
            client.delete(sent_key(task_id))
            cq.put(item, task_id=task_id, priority=priority)
            key = queue if priority == 0 else f"{queue}\x06\x163"
            theirs, ours = client.rpop(key), client.rpop(key)
            assert theirs is not None and ours is not None
            tag_theirs = json.loads(theirs)["properties"]["delivery_tag"]
            tag_ours = json.loads(ours)["properties"]["delivery_tag"]
            assert ours.replace(tag_ours.encode(), b"TAG") == theirs.replace(
                tag_theirs.encode(), b"TAG"
            )
        cq.close()
    finally:
        signals.before_task_publish.disconnect(receiver)
        app.conf.task_default_queue = old_queue
        app.amqp.__dict__.pop("queues", None)
        client.delete(queue, f"{queue}\x06\x163")


@pytest.mark.parametrize("path", ["fast", "apply_async"])
def test_the_same_task_id_put_twice_is_queued_once(compat_stack, path) -> None:
    from celery import signals

    app = compat_stack.module.app
    client = compat_stack.client()
    queue = f"{compat_stack.name}-twice-{path}"
    old_queue = app.conf.task_default_queue
    app.conf.task_default_queue = queue
    app.amqp.__dict__.pop("queues", None)
    receiver = _publish_signal() if path == "apply_async" else None
    try:
        cq = _compat(compat_stack)
        assert (cq.sender.app_blocker is None) == (path == "fast")
        task_id = str(uuid.uuid4())
        first = cq.put(compat_stack.item("echo", v=1), task_id=task_id)
        again = cq.put(compat_stack.item("echo", v=1), task_id=task_id)
        both = cq.put_many([compat_stack.item("echo", v=2)] * 2)
        assert first.id == again.id == task_id
        ids = [json.loads(m)["headers"]["id"] for m in client.lrange(queue, 0, -1)]
        assert ids.count(task_id) == 1
        assert sorted(ids) == sorted([task_id, both[0].id, both[1].id])
        cq.close()
    finally:
        if receiver is not None:
            signals.before_task_publish.disconnect(receiver)
        app.conf.task_default_queue = old_queue
        app.amqp.__dict__.pop("queues", None)
        client.delete(queue)


def test_the_sender_never_imports_its_queue() -> None:
    # Issue 15: _sender and compat_queue imported each other; the sender now gets a
    # SendPolicy and a Ledger (and the outage policy its own module) instead of its owner.
    import ast
    from pathlib import Path

    import queue2celery.compat as compat

    folder = Path(compat.__file__).parent
    for name in ("_sender.py", "_outage.py", "_ledger.py", "_publisher.py", "spool.py"):
        tree = ast.parse((folder / name).read_text(encoding="utf-8"))
        imported = {
            node.module
            for node in ast.walk(tree)
            if isinstance(node, ast.ImportFrom) and node.module is not None
        }
        assert "compat_queue" not in imported, name
