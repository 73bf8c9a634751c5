"""The app's own queues, adopted, against a real worker on the embedded server and on Redis."""

from __future__ import annotations

import contextlib
import json
import queue
import threading
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from _adopt_stack import AdoptStack, adopt_project

from queue2celery import embedded_redis
from queue2celery.compat import CeleryHandle, CompatQueue, Rollout
from queue2celery.legacy_queue import adopt

pytestmark = pytest.mark.worker


@pytest.fixture(scope="module", params=["embedded", pytest.param("redis", marks=pytest.mark.redis)])
def stack(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[AdoptStack]:
    with contextlib.ExitStack() as exits:
        if request.param == "embedded":
            url = exits.enter_context(embedded_redis())
        else:
            url = request.getfixturevalue("_real_redis_checked")
        yield exits.enter_context(adopt_project(url, tmp_path_factory.mktemp("adopt")))


def _done(handle: Any, stack: AdoptStack) -> dict[str, Any]:
    status = handle.wait(timeout=30)
    assert status["status"] == "SUCCESS", (status, stack.worker.log()[-3000:])
    return status


def test_a_sync_run_function_runs_in_the_worker(stack: AdoptStack) -> None:
    handle = stack.module.job_queue.put({"n": 21})
    assert _done(handle, stack)["result"] == 42
    assert '{"n": 21}' in stack.notes("run")


def test_an_async_bound_method_runs_with_its_side_effect_in_the_worker(
    stack: AdoptStack,
) -> None:
    mod = stack.module
    handle = mod.manager.queue.put((5, mod.Task("echo", {"id": "a1"}, 5)))
    # Awaited on the worker's loop: the result is the coroutine's value, not a coroutine.
    assert _done(handle, stack)["result"] == {"id": "a1"}
    assert json.loads(stack.notes("echo")[-1]) == ["Task", "echo", {"id": "a1"}, 5]
    # The handler's side effect happened in the worker's memory, not the API's.
    assert json.loads(stack.notes("status")[-1])["a1"] == "done"
    assert "a1" not in mod.manager.task_status


def test_dataclass_and_pydantic_payloads_arrive_as_the_same_classes(stack: AdoptStack) -> None:
    mod = stack.module
    order = mod.Order(order_id=7, items=["书", "笔"])
    handle = mod.manager.queue.put((1, mod.Task("order", {"id": "o1", "order": order}, 1)))
    assert _done(handle, stack)["result"] == 7
    cls, dumped, task_id = json.loads(stack.notes("order")[-1])
    assert cls == f"{mod.__name__}.Order"
    assert dumped == {"order_id": 7, "items": ["书", "笔"]} and task_id == "o1"


def test_priority_order_is_kept_across_the_mapping(
    stack: AdoptStack, wait_until: Callable[..., Any]
) -> None:
    mod = stack.module
    with stack.client() as client:
        client.delete(f"{stack.name}:release", f"{stack.name}:held", f"{stack.name}:echo")
        # The solo worker is busy with this one while the prioritized tasks queue up.
        hold = mod.job_queue.put({"n": 0, "hold": True})
        wait_until(lambda: stack.notes("held"), timeout=30)
        handles = [
            mod.manager.queue.put((p, mod.Task("echo", {"id": f"p{p}"}, p)))
            for p in (9, 0, 6, 3, 1)
        ]
        client.set(f"{stack.name}:release", "1", ex=600)
    _done(hold, stack)
    for handle in handles:
        _done(handle, stack)
    ran = [json.loads(raw)[2]["id"] for raw in stack.notes("echo")]
    assert ran == ["p0", "p1", "p3", "p6", "p9"]


def test_the_sentinel_stays_in_process_and_is_never_sent(stack: AdoptStack) -> None:
    mod = stack.module
    assert mod.job_queue.put(None) is None
    assert mod.jobs.get_nowait() is None
    mod.manager.queue.put((99, None))
    assert mod.manager.queue.get_nowait() == (99, None)
    # The worker runs messages in order: once this one ran, a sent sentinel would have too.
    _done(mod.job_queue.put({"n": 5}), stack)
    assert "null" not in stack.notes("run")


@pytest.mark.parametrize("percent", [0, 50])
def test_the_apps_own_consumer_thread_drains_the_legacy_share(
    stack: AdoptStack, percent: int
) -> None:
    mod = stack.module
    local: queue.Queue[Any] = queue.Queue()
    # The same run function (same task name) on a queue of the test's own.
    compat = CompatQueue(
        adopt(local, run=mod.run_job),
        mod.app,
        rollout=Rollout.parse(str(percent)),
        namespace=stack.name,
    )
    drained: list[int] = []

    def consumer() -> None:
        # The app's loop, unchanged: get, run, task_done; None stops it.
        while True:
            job = compat.get(timeout=30)
            if job is None:
                compat.task_done()
                break
            drained.append(job["n"])
            compat.task_done()

    thread = threading.Thread(target=consumer, daemon=True)
    thread.start()
    try:
        handles = [compat.put({"n": 1000 + i}) for i in range(40)]
        compat.put(None)
        thread.join(timeout=30)
        assert not thread.is_alive()
        compat.join(timeout=30)
    finally:
        compat.close()
    sent = [h for h in handles if h is not None]
    results = {_done(h, stack)["result"] // 2 for h in sent}
    assert sorted(drained + sorted(results)) == [1000 + i for i in range(40)]
    if percent == 0:
        assert not sent and len(drained) == 40
    else:
        assert sent and drained, "at 50% both sides get a share of 40 items"


def test_a_message_naming_a_class_not_in_types_is_refused_and_nothing_is_imported(
    stack: AdoptStack,
) -> None:
    mod = stack.module
    task = next(iter(mod.manager.queue.tasks.values()))
    forged = {"__q2c__": f"{stack.name}_evil:Thing", "kind": "echo", "data": {}}
    result = task.apply_async(args=[forged])
    status = CeleryHandle(result.id, mod.app).wait(timeout=30)
    assert status["status"] == "FAILURE"
    assert status["error"]["type"] == "PayloadError"
    assert "not in this queue's types" in status["error"]["message"]
    assert stack.notes("evil") == []


def test_a_handler_registered_after_the_queue_was_built_is_a_task_in_the_worker(
    stack: AdoptStack,
) -> None:
    handle = stack.module.late_queue.put({"type": "ping", "who": "小明"})
    assert handle is not None and _done(handle, stack)["result"] == "pong 小明"
