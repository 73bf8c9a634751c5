"""adopt(): the app's own queue with TaskQueue's protocol; every misuse is a ConfigError."""

from __future__ import annotations

import asyncio
import queue
import subprocess
import sys
from dataclasses import dataclass
from typing import Any

import pytest

from queue2celery.errors import ConfigError
from queue2celery.legacy_queue import AdoptedQueue, adopt


def run_job(job: Any) -> Any:
    return job


class Manager:
    async def execute(self, task: Any) -> Any:
        return task


@pytest.mark.parametrize("bad", [{}, [], "queue", 42, object()])
def test_adopting_something_that_is_not_a_queue_is_a_config_error(bad: Any) -> None:
    with pytest.raises(ConfigError, match="expected a queue.Queue, LifoQueue, PriorityQueue"):
        adopt(bad, run=run_job)


def test_both_run_and_handlers_or_neither_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="not both"):
        adopt(queue.Queue(), run=run_job, handlers={}, route=str)
    with pytest.raises(ConfigError, match="one of them"):
        adopt(queue.Queue())


def test_handlers_need_a_route_and_a_mapping() -> None:
    with pytest.raises(ConfigError, match="needs route="):
        adopt(queue.Queue(), handlers={"a": run_job})
    with pytest.raises(ConfigError, match="pass the mapping itself"):
        adopt(queue.Queue(), handlers=[run_job], route=str)  # type: ignore[arg-type]


def test_a_route_returning_an_unknown_name_is_a_config_error_listing_the_known() -> None:
    adopted = adopt(queue.Queue(), handlers={"send_email": run_job}, route=lambda j: j["type"])
    with pytest.raises(ConfigError, match=r"route returned 'sms'.*known handlers: 'send_email'"):
        adopted.handler_for({"type": "sms"})


def test_run_is_named_by_its_module_and_qualname_also_for_a_bound_method() -> None:
    assert adopt(queue.Queue(), run=run_job).name == f"{__name__}.run_job"
    adopted = adopt(queue.PriorityQueue(), run=Manager().execute)
    assert list(adopted.handlers) == [f"{__name__}.Manager.execute"]


def test_a_lambda_run_needs_a_name() -> None:
    with pytest.raises(ConfigError, match="pass adopt"):
        adopt(queue.Queue(), run=lambda job: job)
    assert adopt(queue.Queue(), run=lambda job: job, name="jobs.run").name == "jobs.run"


def test_handlers_are_read_live_and_call_says_how_the_app_calls_them() -> None:
    handlers: dict[str, Any] = {}
    adopted = adopt(
        queue.Queue(),
        handlers=handlers,
        route=lambda j: j["type"],
        call=lambda fn, j: fn(**j["payload"]),
    )
    assert dict(adopted.handlers) == {}
    handlers["add"] = lambda a, b: a + b
    handler = adopted.handler_for({"type": "add"})
    assert handler.name == "add"
    assert handler.func({"type": "add", "payload": {"a": 2, "b": 3}}) == 5
    handlers["add"] = lambda a, b: a * b  # replaced later: the new one runs
    assert handler.func({"type": "add", "payload": {"a": 2, "b": 3}}) == 6


def test_types_must_be_classes_that_can_cross() -> None:
    with pytest.raises(ConfigError, match="only dataclasses, pydantic models"):
        adopt(queue.Queue(), run=run_job, types=[dict])

    def local() -> type:
        @dataclass
        class Inner:
            x: int

        return Inner

    with pytest.raises(ConfigError, match="inside a function"):
        adopt(queue.Queue(), run=run_job, types=[local()])


def test_priority_queues_split_entries_and_others_do_not() -> None:
    assert adopt(queue.PriorityQueue(), run=run_job).split((3, 1, "x")) == (3, "x")
    assert adopt(asyncio.PriorityQueue(), run=run_job).split((3, "x")) == (3, "x")
    assert adopt(queue.Queue(), run=run_job).split((3, "x")) == (None, (3, "x"))
    custom = adopt(queue.Queue(), run=run_job, entry=lambda e: (e["p"], e))
    assert custom.split({"p": 2}) == (2, {"p": 2})


def test_the_adopted_queue_is_the_apps_own_for_its_consumers() -> None:
    app_queue: queue.Queue[Any] = queue.Queue(maxsize=1)
    adopted = adopt(app_queue, run=run_job)
    assert isinstance(adopted, AdoptedQueue) and adopted.queue is app_queue
    adopted.put("job")
    assert adopted.full() and app_queue.get_nowait() == "job"


def test_legacy_queue_stays_stdlib_only() -> None:
    code = (
        "import sys, queue2celery.legacy_queue as lq; lq.adopt(__import__('queue').Queue(), "
        "run=print, name='x');"
        "bad = [m for m in ('celery', 'kombu', 'redis', 'fakeredis') if m in sys.modules];"
        "print(bad)"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.stdout.strip() == "[]", done.stderr


def test_a_class_from_the_running_script_cannot_be_a_type() -> None:
    @dataclass
    class Script:
        x: int

    Script.__module__ = "__main__"
    Script.__qualname__ = "Script"
    with pytest.raises(ConfigError, match="__main__"):
        adopt(queue.Queue(), run=run_job, types=[Script])


def test_adopting_a_task_queue_or_an_adopted_queue_again_is_a_config_error() -> None:
    from queue2celery.legacy_queue import TaskQueue

    once = adopt(queue.Queue(), run=run_job)
    for already in (once, TaskQueue()):
        with pytest.raises(ConfigError, match="already is a task queue"):
            adopt(already, run=run_job)
