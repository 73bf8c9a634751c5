from __future__ import annotations

import socket
import threading
import time

import pytest
import redis

from queue2celery import embedded_redis, resolve_redis_url

APP_MODULE = """
from queue2celery.celery_tasks import make_celery_app

app = make_celery_app("{name}")
app.conf.task_default_queue = "{name}"

@app.task(name="{name}.add", shared=False)
def add(x, y):
    return x + y
"""


def test_embedded_server_answers_redis_py_and_stops_without_leftovers() -> None:
    threads_before = set(threading.enumerate())
    with embedded_redis() as url:
        client = redis.Redis.from_url(url)
        client.set("k", "值")
        assert client.get("k").decode() == "值"
        # EVALSHA works: kombu's redis-py Lock needs it when a worker starts.
        assert client.eval("return redis.call('incr', KEYS[1])", 1, "n") == 1
        port = client.connection_pool.connection_kwargs["port"]
        client.close()
    with pytest.raises(ConnectionRefusedError), socket.create_connection(("127.0.0.1", port), 1):
        pass
    deadline = time.monotonic() + 5
    while set(threading.enumerate()) - threads_before and time.monotonic() < deadline:
        time.sleep(0.05)
    assert set(threading.enumerate()) - threads_before == set()


def test_embedded_server_disables_nagle_so_transactions_are_fast() -> None:
    with embedded_redis() as url:
        client = redis.Redis.from_url(url)
        started = time.perf_counter()
        for _ in range(20):
            with client.pipeline(transaction=True) as pipe:
                pipe.incr("a").incr("b").execute()
        elapsed = time.perf_counter() - started
        client.close()
    # With Nagle's algorithm each MULTI/EXEC waits ~40 ms for a delayed ACK: 20 take >= 0.8 s.
    assert elapsed < 0.5, f"20 MULTI/EXEC took {elapsed:.2f}s"


def test_resolve_redis_url_prefers_explicit_then_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("REDIS_URL", raising=False)
    assert resolve_redis_url() is None
    monkeypatch.setenv("REDIS_URL", "redis://env:6379/1")
    assert resolve_redis_url() == "redis://env:6379/1"
    assert resolve_redis_url("redis://explicit:6379/2") == "redis://explicit:6379/2"


def test_replies_larger_than_the_socket_buffer_arrive_whole() -> None:
    with embedded_redis() as url:
        client = redis.Redis.from_url(url, socket_timeout=10)
        # 8 MiB with no newline byte, like a Celery message (JSON, base64 body): fakeredis
        # reads its input line by line, which is slow on binary data full of newlines.
        value = bytes(range(11, 256)) * (34 * 1024)
        client.set("big", value)
        assert client.get("big") == value
        client.close()


@pytest.mark.worker
def test_a_celery_worker_process_consumes_tasks(
    broker_url, write_module, worker_factory, unique_name, monkeypatch, tmp_path
) -> None:
    monkeypatch.setenv("REDIS_URL", broker_url)
    write_module(f"{unique_name.replace('-', '_')}_app", APP_MODULE.format(name=unique_name))
    module = __import__(f"{unique_name.replace('-', '_')}_app")
    worker = worker_factory(f"{module.__name__}:app", cwd=tmp_path, env={"REDIS_URL": broker_url})
    results = [module.add.delay(i, i) for i in range(20)]
    assert [r.get(timeout=30) for r in results] == [2 * i for i in range(20)]
    # A 4 MB message: more than the kernel's socket buffer, on both kinds of server.
    big = module.add.delay("数据" * 1_000_000, "!")
    assert len(big.get(timeout=60)) == 2_000_001
    for r in [*results, big]:
        r.forget()
    module.app.close()
    assert worker.log_path.exists()
    worker.stop()
    assert not worker.alive()
    assert not worker.log_path.exists(), "stop() deletes the log file start_worker made"
