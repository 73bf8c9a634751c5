"""Redis down: bounded waits, a clear error, in-process fallback, or a spool replayed once."""

from __future__ import annotations

import json
import threading
import time
import uuid
from pathlib import Path

import pytest
import redis
from _compat_stack import compat_project
from celery import signals

from queue2celery.celery_tasks import make_celery_app
from queue2celery.cli import main as cli_main
from queue2celery.compat import CompatQueue, Rollout, Spool
from queue2celery.errors import BrokerUnavailable
from queue2celery.legacy_queue import TaskQueue

pytestmark = pytest.mark.reliability

PASSWORD = "s3cret-pw"


def _protect(server) -> str:
    redis.Redis(port=server.port).config_set("requirepass", PASSWORD)
    return f"redis://:{PASSWORD}@127.0.0.1:{server.port}/0"


def _connect_publish_signal():
    # Any connected publish signal sends the queue down Celery's own apply_async path.
    def receiver(**_kwargs) -> None:
        return None

    signals.before_task_publish.connect(receiver)
    return receiver


def _queue(url: str, **kwargs):
    name = f"q2ctest-{uuid.uuid4().hex[:10]}"
    app = make_celery_app(name, broker_url=url, result_backend=url)
    app.conf.task_default_queue = name
    task_queue = TaskQueue(workers=2)

    @task_queue.handler(f"{name}.echo")
    def echo(item):
        return item

    kwargs.setdefault("rollout", Rollout.all_celery())
    return CompatQueue(task_queue, app, namespace=name, **kwargs), task_queue


@pytest.mark.parametrize("path", ["fast", "apply_async"])
@pytest.mark.parametrize("outage", ["refused", "frozen"])
def test_raise_gives_broker_unavailable_within_five_seconds_without_the_password(
    redis_server_factory, outage, path
) -> None:
    server = redis_server_factory()
    url = _protect(server)
    receiver = _connect_publish_signal() if path == "apply_async" else None
    cq, task_queue = _queue(url)
    assert (cq.sender.app_blocker is None) == (path == "fast")
    try:
        assert cq.put({"ok": 1}).backend == "celery"
        server.stop() if outage == "refused" else server.freeze()
        started = time.monotonic()
        with pytest.raises(BrokerUnavailable) as info:
            cq.put({"ok": 2})
        assert time.monotonic() - started < 5.0
        message = str(info.value)
        assert PASSWORD not in message
        assert f"redis://:***@127.0.0.1:{server.port}/0" in message
        if outage == "refused":
            # Nothing was written to a socket: certainly not sent.
            assert "nothing was enqueued" in message and not info.value.maybe_sent
        else:
            # Written, no answer: the outcome is unknown, and the error says so.
            assert "nothing was enqueued" not in message
            assert "MAY be queued" in message and info.value.maybe_sent
            assert len(info.value.task_ids) == 1 and info.value.task_ids[0] in message
        # The breaker is open: the next put does not wait again.
        started = time.monotonic()
        with pytest.raises(BrokerUnavailable):
            cq.put({"ok": 3})
        assert time.monotonic() - started < 0.5
    finally:
        if receiver is not None:
            signals.before_task_publish.disconnect(receiver)
        cq.close()
        task_queue.stop()
        server.thaw()


def test_legacy_policy_runs_a_thousand_puts_in_process_in_seconds(redis_server_factory) -> None:
    server = redis_server_factory()
    cq, task_queue = _queue(server.url, on_broker_error="legacy")
    try:
        assert cq.put({"warm": 1}).backend == "celery"
        server.freeze()
        started = time.monotonic()
        handles = [cq.put({"n": i}) for i in range(1000)]
        elapsed = time.monotonic() - started
        assert elapsed < 10.0, f"1,000 puts during an outage took {elapsed:.1f}s"
        # The first put's publish was written to the frozen socket: its outcome is unknown,
        # so it is held (never also run in process); the others ran in process.
        first, rest = handles[0], handles[1:]
        assert first.backend == "celery" and first.spooled
        assert {h.backend for h in rest} == {"legacy"}
        task_queue.join()
        assert [h.status()["result"] for h in rest] == [{"n": i} for i in range(1, 1000)]
        assert sum(n for (_, kind), n in cq.ledger.counts().items() if kind == "fallback") == 999
        # Back up: the probe closes the breaker, the held task is sent once, puts go to Celery.
        server.thaw()
        deadline = time.monotonic() + 10.0
        while (cq.breaker.is_open or cq.ledger.replay_due) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not cq.breaker.is_open and not cq.ledger.replay_due
        assert cq.put({"after": 1}).backend == "celery"
        queued = redis.Redis.from_url(server.url).lrange(cq.app.conf.task_default_queue, 0, -1)
        ids = [json.loads(m)["headers"]["id"] for m in queued]
        assert ids.count(first.id) == 1, ids
        assert len(ids) == 3  # warm, the held one, after
    finally:
        cq.close()
        task_queue.stop()
        server.thaw()


def test_spool_then_replay_runs_each_task_exactly_once(
    redis_server_factory, worker_factory, tmp_path: Path, capsys
) -> None:
    server = redis_server_factory()
    spool_path = tmp_path / "outbox.sqlite3"
    with compat_project(server.url, tmp_path, worker=False) as stack:
        cq = CompatQueue(
            stack.module.task_queue,
            stack.module.app,
            rollout=Rollout.all_celery(),
            on_broker_error="spool",
            spool_path=spool_path,
            namespace=stack.name,
        )
        try:
            cq.put(stack.item("count", n=-1))
            cq.close()  # no background replay: this test replays by hand
            server.stop()
            handles = [cq.put(stack.item("count", n=i)) for i in range(30)]
            assert all(h.spooled and h.backend == "celery" for h in handles)
            assert Spool(spool_path).task_ids() == [h.id for h in handles]
            replay = ["spool", "replay", "--path", str(spool_path), "--redis-url", server.url]
            assert cli_main(replay) == 1
            err = capsys.readouterr().err
            assert err.startswith("error: could not replay the spool") and err.count("\n") == 1
            assert "30 message(s) are kept" in err and server.url in err, err
            assert Spool(spool_path).count() == 30
            server.start()
            assert cli_main(replay) == 0
            assert "sent 30 spooled task(s)" in capsys.readouterr().out
            assert Spool(spool_path).count() == 0
            assert cli_main(replay) == 0
            assert "sent 0" in capsys.readouterr().out
            worker_factory(
                f"{stack.module.__name__}:app",
                cwd=tmp_path,
                env={"REDIS_URL": server.url},
                queues=[stack.name],
            )
            results = [h.wait(timeout=60) for h in handles]
            assert [r["result"] for r in results] == list(range(30))
            client = stack.client()
            ran = client.mget([f"{stack.name}:ran:{i}" for i in range(30)])
            assert ran == [b"1"] * 30
            # Spooled in put order, replayed in put order.
            order = [int(x) for x in client.lrange(f"{stack.name}:order", 0, -1)]
            assert order == list(range(30))
        finally:
            cq.close()


def test_the_background_thread_replays_the_spool_when_redis_is_back(
    redis_server_factory, worker_factory, tmp_path: Path
) -> None:
    server = redis_server_factory()
    spool_path = tmp_path / "outbox.sqlite3"
    with compat_project(server.url, tmp_path, worker=False) as stack:
        cq = CompatQueue(
            stack.module.task_queue,
            stack.module.app,
            rollout=Rollout.all_celery(),
            on_broker_error="spool",
            spool_path=spool_path,
            namespace=stack.name,
        )
        try:
            cq.put(stack.item("count", n=-1))
            server.freeze()
            started = time.monotonic()
            handles = [cq.put(stack.item("count", n=i)) for i in range(200)]
            assert time.monotonic() - started < 10.0
            assert all(h.spooled for h in handles)
            server.thaw()
            deadline = time.monotonic() + 15.0
            while Spool(spool_path).count() and time.monotonic() < deadline:
                time.sleep(0.1)
            assert Spool(spool_path).count() == 0
            worker_factory(
                f"{stack.module.__name__}:app",
                cwd=tmp_path,
                env={"REDIS_URL": server.url},
                queues=[stack.name],
            )
            assert [h.wait(timeout=60)["result"] for h in handles] == list(range(200))
            ran = stack.client().mget([f"{stack.name}:ran:{i}" for i in range(200)])
            assert ran == [b"1"] * 200
        finally:
            cq.close()


def test_two_replayers_at_once_push_each_task_once(redis_server_factory, tmp_path: Path) -> None:
    server = redis_server_factory()
    spool_path = tmp_path / "outbox.sqlite3"
    cq, task_queue = _queue(server.url, on_broker_error="spool", spool_path=spool_path)
    try:
        cq.put({"warm": 1})
        queue = cq.app.conf.task_default_queue
        client = redis.Redis.from_url(server.url)
        client.delete(queue)
        cq.close()
        server.stop()
        for i in range(300):
            cq.put({"n": i})
        server.start()
        errors: list[BaseException] = []

        def replay() -> None:
            try:
                assert (
                    cli_main(
                        ["spool", "replay", "--path", str(spool_path), "--redis-url", server.url]
                    )
                    == 0
                )
            except BaseException as exc:  # reported by the test thread
                errors.append(exc)

        threads = [threading.Thread(target=replay) for _ in range(3)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(60)
        assert not errors
        assert client.llen(queue) == 300
        assert Spool(spool_path).count() == 0
    finally:
        cq.close()
        task_queue.stop()
