from __future__ import annotations

import queue
import threading
import time

import pytest

from queue2celery.errors import ConfigError
from queue2celery.legacy_queue import STATUSES, TaskQueue


def test_single_handler_takes_every_item_and_status_reports_success() -> None:
    seen: list[object] = []
    with TaskQueue(workers=2) as q:

        @q.handler
        def process_task(data: object) -> str:
            seen.append(data)
            return f"done {data}"

        handles = [q.put(i) for i in range(10)]
        q.join()
    assert sorted(seen) == list(range(10))  # type: ignore[type-var]
    status = handles[3].status()
    assert status == {
        "task_id": handles[3].id,
        "status": "SUCCESS",
        "result": "done 3",
        "error": None,
        "attempts": 1,
    }
    assert set(q.handlers) == {"process_task"}


def test_route_picks_the_named_handler_per_item() -> None:
    q = TaskQueue(route=lambda item: item["kind"])
    calls: list[tuple[str, object]] = []

    @q.handler("video", max_retries=1)
    def video(item: dict) -> None:
        calls.append(("video", item["id"]))

    @q.handler("email")
    def email(item: dict) -> None:
        calls.append(("email", item["id"]))

    q.put({"kind": "video", "id": 1})
    q.put({"kind": "email", "id": 2})
    q.join()
    q.stop()
    assert sorted(calls) == [("email", 2), ("video", 1)]
    assert q.handlers["video"].max_retries == 1


def test_unknown_route_and_ambiguous_queue_raise_config_errors_at_put() -> None:
    q = TaskQueue(route=lambda item: "nope")
    with pytest.raises(ConfigError, match="no handler"):
        q.put(1)
    q.handler("a")(lambda item: None)
    with pytest.raises(
        ConfigError, match="'nope' for item 1, which is not a handler; known handlers: a"
    ):
        q.put(1)
    unrouted = TaskQueue()
    unrouted.handler("a")(print)
    unrouted.handler("b")(print)
    with pytest.raises(ConfigError, match="no route"):
        unrouted.put(1)


def test_retries_follow_celery_semantics_max_retries_3_means_4_attempts() -> None:
    attempts: list[float] = []
    q = TaskQueue()

    @q.handler("flaky", max_retries=3, retry_delay=0.05)
    def flaky(item: object) -> None:
        attempts.append(time.monotonic())
        raise ValueError(f"boom {len(attempts)}")

    handle = q.put("x")
    final = handle.wait(timeout=10)
    q.stop()
    assert final["status"] == "FAILURE"
    assert final["attempts"] == 4
    assert final["error"] == {"type": "ValueError", "message": "boom 4"}
    gaps = [b - a for a, b in zip(attempts, attempts[1:], strict=False)]
    assert len(attempts) == 4 and all(gap >= 0.045 for gap in gaps)


def test_a_retry_that_succeeds_ends_in_success_and_a_waiting_retry_frees_the_worker() -> None:
    q = TaskQueue(workers=1, route=lambda item: item)
    tries = {"slow": 0}

    @q.handler("slow", max_retries=2, retry_delay=0.5)
    def slow(item: str) -> str:
        tries["slow"] += 1
        if tries["slow"] < 2:
            raise RuntimeError("not yet")
        return "ok"

    @q.handler("quick")
    def quick(item: str) -> str:
        return "quick"

    slow_handle = q.put("slow")
    deadline = time.monotonic() + 5
    while slow_handle.status()["status"] != "RETRY" and time.monotonic() < deadline:
        time.sleep(0.01)
    assert slow_handle.status()["status"] == "RETRY"
    # The only worker thread is free while "slow" waits for its retry.
    assert q.put("quick").wait(timeout=0.4)["status"] == "SUCCESS"
    final = slow_handle.wait(timeout=5)
    q.stop()
    assert (final["status"], final["result"], final["attempts"]) == ("SUCCESS", "ok", 2)


def test_a_failing_handler_never_kills_a_worker_thread() -> None:
    q = TaskQueue(workers=1)

    @q.handler
    def explode(item: int) -> int:
        if item % 2:
            raise KeyError(item)
        return item

    handles = [q.put(i) for i in range(20)]
    q.join()
    q.stop()
    statuses = [h.status()["status"] for h in handles]
    assert statuses == ["SUCCESS", "FAILURE"] * 10


def test_lower_priority_runs_first_and_fifo_within_a_priority() -> None:
    q = TaskQueue(workers=1)
    order: list[str] = []
    gate = threading.Event()

    @q.handler
    def record(item: str) -> None:
        gate.wait(5)
        order.append(item)

    q.put("blocker")
    deadline = time.monotonic() + 5
    while q.qsize() and time.monotonic() < deadline:  # the worker took the blocker
        time.sleep(0.01)
    for name, priority in [("low-a", 5), ("high-a", 0), ("low-b", 5), ("high-b", 0)]:
        q.put(name, priority=priority)
    gate.set()
    q.join()
    q.stop()
    assert order == ["blocker", "high-a", "high-b", "low-a", "low-b"]


def test_queue_api_maxsize_full_put_nowait_and_timeout() -> None:
    q = TaskQueue(workers=1, maxsize=2)
    gate = threading.Event()
    q.handler(lambda item: gate.wait(5))
    q.put("blocker")
    deadline = time.monotonic() + 5
    while not q.empty() and time.monotonic() < deadline:  # the worker holds the blocker
        time.sleep(0.01)
    assert q.empty() and not q.full()
    q.put_nowait(1)
    q.put(2)
    assert q.full() and q.qsize() == 2
    with pytest.raises(queue.Full):
        q.put_nowait(3)
    started = time.monotonic()
    with pytest.raises(queue.Full):
        q.put(3, timeout=0.2)
    assert 0.15 < time.monotonic() - started < 2
    gate.set()
    q.join()
    q.stop()
    assert q.empty()


def test_unknown_task_id_is_pending_and_statuses_use_celerys_vocabulary() -> None:
    q = TaskQueue()
    assert q.status("nobody")["status"] == "PENDING"
    assert STATUSES == ("PENDING", "STARTED", "RETRY", "SUCCESS", "FAILURE")


def test_run_inline_runs_in_the_callers_thread_with_retries() -> None:
    q = TaskQueue()
    threads: list[str] = []

    @q.handler("h", max_retries=1)
    def h(item: int) -> int:
        threads.append(threading.current_thread().name)
        if len(threads) == 1:
            raise OSError("first")
        return item * 2

    handle = q.run_inline(21, task_id="fixed-id")
    assert handle.id == "fixed-id"
    assert handle.status()["result"] == 42 and handle.status()["attempts"] == 2
    assert set(threads) == {threading.current_thread().name}


def test_eight_producer_threads_each_item_handled_exactly_once() -> None:
    counts: dict[tuple[int, int], int] = {}
    lock = threading.Lock()
    with TaskQueue(workers=4) as q:

        @q.handler
        def count(item: tuple[int, int]) -> None:
            with lock:
                counts[item] = counts.get(item, 0) + 1

        def produce(producer: int) -> None:
            for i in range(1000):
                q.put((producer, i))

        producers = [threading.Thread(target=produce, args=(p,)) for p in range(8)]
        for thread in producers:
            thread.start()
        for thread in producers:
            thread.join(30)
        q.join()
    assert len(counts) == 8000
    assert set(counts.values()) == {1}


def test_handler_rejects_negative_retry_settings() -> None:
    q = TaskQueue()
    with pytest.raises(ConfigError, match="max_retries=-1"):
        q.add_handler("x", print, max_retries=-1)
