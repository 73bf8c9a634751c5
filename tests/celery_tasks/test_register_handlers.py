from __future__ import annotations

import inspect
import time
from dataclasses import dataclass

import pytest
import redis
from _celery_stack import CeleryStack
from celery import Celery

from queue2celery.celery_tasks import HandlerTask, celery_status, make_celery_app, register_handlers
from queue2celery.celery_tasks.app import DEFAULT_VISIBILITY_TIMEOUT
from queue2celery.legacy_queue import TaskQueue


def _app_and_queue() -> tuple[Celery, TaskQueue]:
    app = make_celery_app("unit", broker_url="memory://", result_backend="cache+memory://")
    queue = TaskQueue(route=lambda item: item["task"])
    return app, queue


# --- registration (no worker) --------------------------------------------------------


def test_every_handler_becomes_a_task_named_exactly_like_the_handler() -> None:
    app, queue = _app_and_queue()

    @queue.handler("process_video_upload", max_retries=3, retry_delay=60)
    def process_video_upload(video_id: int) -> int:
        return video_id

    @queue.handler("app.tasks.send_mail")
    def send_mail(item: dict) -> str:
        return "sent"

    tasks = register_handlers(app, queue)

    assert set(tasks) == {"process_video_upload", "app.tasks.send_mail"}
    task = tasks["process_video_upload"]
    assert task.name == "process_video_upload"
    assert app.tasks["process_video_upload"] is task
    assert isinstance(task, HandlerTask)
    assert task.max_retries == 3
    assert task.default_retry_delay == 60
    # bind=True: the bound run takes only the item, the task arrives as ``self``.
    assert list(inspect.signature(task.run).parameters) == ["item"]
    assert tasks["app.tasks.send_mail"].max_retries == 0


def test_a_bare_handler_keeps_its_function_name_not_a_module_qualified_one() -> None:
    app = make_celery_app("unit", broker_url="memory://", result_backend="cache+memory://")
    queue = TaskQueue()

    @queue.handler
    def process_task(data: dict) -> dict:
        return data

    tasks = register_handlers(app, queue)
    # Celery would name a decorated function "<module>.process_task"; the legacy name is
    # what producers and workers must agree on, or tasks sit in PENDING forever.
    assert list(tasks) == ["process_task"]
    assert "process_task" in app.tasks


def test_called_directly_a_task_runs_its_handler_and_raises_the_handlers_own_error() -> None:
    app, queue = _app_and_queue()

    class Declined(Exception):
        pass

    @queue.handler("ok")
    def ok(item: dict) -> int:
        return item["x"] + 1

    @queue.handler("bad", max_retries=2)
    def bad(item: dict) -> None:
        raise Declined("no")

    tasks = register_handlers(app, queue)
    assert tasks["ok"]({"x": 1}) == 2
    with pytest.raises(Declined, match="no"):
        tasks["bad"]({})


def test_registering_again_replaces_the_function_under_the_same_name() -> None:
    app, queue = _app_and_queue()
    queue.add_handler("job", lambda item: "first", max_retries=1)
    first = register_handlers(app, queue)["job"]

    queue.add_handler("job", lambda item: "second", max_retries=4, retry_delay=0)
    second = register_handlers(app, queue)["job"]

    assert second is first
    assert second({}) == "second"
    assert second.max_retries == 4
    assert list(app.tasks).count("job") == 1


def test_a_foreign_task_of_the_same_name_is_replaced_by_the_handler() -> None:
    app, queue = _app_and_queue()

    @app.task(name="job", shared=False)
    def job(item: object) -> str:
        return "foreign"

    queue.add_handler("job", lambda item: "handler")
    task = register_handlers(app, queue)["job"]
    assert app.tasks["job"] is task
    assert task({}) == "handler"


def test_a_long_retry_delay_raises_the_visibility_timeout_above_it() -> None:
    app, queue = _app_and_queue()
    queue.add_handler("nightly", lambda item: None, max_retries=2, retry_delay=7200)
    register_handlers(app, queue)
    options = app.conf.broker_transport_options
    assert options["visibility_timeout"] > 7200
    # The other transport options (socket timeouts) are kept.
    assert options["socket_timeout"] is not None


def test_short_retry_delays_leave_the_default_visibility_timeout() -> None:
    app, queue = _app_and_queue()
    queue.add_handler("quick", lambda item: None, max_retries=5, retry_delay=60)
    register_handlers(app, queue)
    options = app.conf.broker_transport_options
    assert options["visibility_timeout"] == DEFAULT_VISIBILITY_TIMEOUT


# --- with a real worker --------------------------------------------------------------


@pytest.mark.worker
def test_a_handler_runs_in_the_worker_and_returns_its_result(celery_stack: CeleryStack) -> None:
    item = celery_stack.item("double", x=21)
    result = celery_stack.module.tasks["double"].apply_async(args=[item])
    assert result.get(timeout=30) == 42
    status = celery_stack.wait_ready(result.id)
    assert status == {
        "task_id": result.id,
        "status": "SUCCESS",
        "result": 42,
        "error": None,
        "attempts": 1,
    }


@pytest.mark.worker
def test_a_handler_that_succeeds_on_a_later_attempt_ends_in_success(
    celery_stack: CeleryStack,
) -> None:
    item = celery_stack.item("flaky", succeed_on=3)
    result = celery_stack.module.tasks["flaky"].apply_async(args=[item])
    assert result.get(timeout=30) == {"attempt": 3}
    status = celery_stack.wait_ready(result.id)
    assert status["status"] == "SUCCESS"
    assert status["attempts"] == 3
    assert celery_stack.calls(item) == 3


@pytest.mark.worker
def test_a_handler_that_keeps_failing_ends_in_failure_with_its_own_exception(
    celery_stack: CeleryStack,
) -> None:
    module = celery_stack.module
    max_retries = module.task_queue.handlers["always_fails"].max_retries
    item = celery_stack.item("always_fails")
    result = module.tasks["always_fails"].apply_async(args=[item])
    with pytest.raises(module.PaymentDeclined, match=f"attempt {max_retries + 1}"):
        result.get(timeout=30)
    status = celery_stack.wait_ready(result.id)
    assert status["status"] == "FAILURE"
    assert status["error"] == {
        "type": "PaymentDeclined",
        "message": f"card declined on attempt {max_retries + 1}",
    }
    assert status["attempts"] == max_retries + 1
    assert celery_stack.calls(item) == max_retries + 1


@pytest.mark.worker
def test_the_worker_refuses_a_pickled_message(celery_stack: CeleryStack) -> None:
    item = celery_stack.item("double", x=1)
    refused = celery_stack.app.send_task("double", args=[item], serializer="pickle")
    # A JSON message sent after it still runs: the worker skipped the pickled one.
    after = celery_stack.module.tasks["double"].apply_async(args=[celery_stack.item("double", x=2)])
    assert after.get(timeout=30) == 4
    deadline = time.monotonic() + 10
    while "pickle" not in celery_stack.worker.log() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert "Refusing to deserialize untrusted content of type pickle" in celery_stack.worker.log()
    assert celery_status(celery_stack.app, refused.id)["status"] == "PENDING"


@pytest.mark.worker
def test_sending_leaves_no_result_subscription_and_get_still_sees_the_result(
    celery_stack: CeleryStack,
) -> None:
    app = celery_stack.app
    result = celery_stack.module.tasks["double"].apply_async(
        args=[celery_stack.item("double", x=4)]
    )
    channel = app.backend.get_key_for_task(result.id).decode()
    client = redis.Redis.from_url(celery_stack.url)
    try:
        # Stock Celery subscribes here and leaks the subscription if nobody calls get().
        assert client.pubsub_numsub(channel) == [(channel.encode(), 0)]
        deadline = time.monotonic() + 30
        while celery_status(app, result.id)["status"] != "SUCCESS":
            assert time.monotonic() < deadline, "the task never finished"
            time.sleep(0.05)
        # The result was stored before anyone subscribed: get() reads it anyway.
        assert result.get(timeout=10) == 8
    finally:
        client.close()


# --- async handlers and adopted queues (no worker; the worker tests are in tests/compat) ---


def test_an_async_handler_is_awaited_on_one_loop_never_stored_as_a_coroutine() -> None:
    import asyncio

    app, queue = _app_and_queue()
    loops: list[int] = []

    @queue.handler("async_ok")
    async def async_ok(item: dict) -> int:
        await asyncio.sleep(0)
        loops.append(id(asyncio.get_running_loop()))
        return item["x"] * 2

    tasks = register_handlers(app, queue)
    assert tasks["async_ok"]({"task": "async_ok", "x": 4}) == 8
    assert tasks["async_ok"]({"task": "async_ok", "x": 5}) == 10
    # One loop per process: a client bound to it on the first task still works on the next.
    assert len(set(loops)) == 1


def test_register_handlers_on_a_plain_queue_says_to_adopt_it() -> None:
    import queue as stdlib_queue

    from queue2celery.errors import ConfigError

    app = make_celery_app("unit", broker_url="memory://", result_backend="cache+memory://")
    with pytest.raises(ConfigError, match=r"adopt\(queue, run=\.\.\.\)"):
        register_handlers(app, stdlib_queue.Queue())  # type: ignore[arg-type]


@dataclass
class _Clip:
    path: str


def test_an_adopted_queues_tasks_rebuild_its_listed_classes() -> None:
    import queue as stdlib_queue

    from queue2celery.legacy_queue import adopt

    received: list[object] = []
    app = make_celery_app("unit", broker_url="memory://", result_backend="cache+memory://")
    adopted = adopt(stdlib_queue.Queue(), run=received.append, types=[_Clip], name="clips.process")
    tasks = register_handlers(app, adopted)
    tasks["clips.process"]({"__q2c__": f"{__name__}:_Clip", "path": "/a.mp4"})
    assert received == [_Clip("/a.mp4")]
