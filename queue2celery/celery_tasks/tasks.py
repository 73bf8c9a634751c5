"""Every handler of a legacy TaskQueue (or adopted queue) as a Celery task of the same name.

An async handler (a coroutine function, an async bound method, or anything returning an
awaitable) is awaited on the worker process's one event loop (``_loop.resolve``): a
coroutine object is never stored as a SUCCESS result.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from celery import Celery, Task
from celery.exceptions import Ignore, Reject, Retry
from celery.result import AsyncResult

from ..errors import ConfigError, PayloadError
from ..legacy_queue import Handler, TaskQueue
from ..legacy_queue.adopt import AdoptedQueue
from ._loop import resolve
from .app import ensure_visibility_timeout
from .status import mark_app_sent

__all__ = ["HandlerTask", "handler_task_names", "register_handler", "register_handlers"]

# Celery's own control flow raised inside a handler passes through untouched.
_CELERY_CONTROL = (Retry, Ignore, Reject)


class HandlerTask(Task):
    """A Celery task that runs one legacy handler with its retry policy.

    ``apply_async`` also sets the sent marker, so the status API knows the id.
    """

    #: The legacy handler this task runs; replaced in place when registered again.
    q2c_handler: Handler | None = None
    #: Rebuilds an adopted queue's listed classes from the message (None: the item as is).
    q2c_decode: Callable[[Any], Any] | None = None

    def apply_async(
        self, args: Any = None, kwargs: Any = None, task_id: str | None = None, **options: Any
    ) -> AsyncResult:
        result = super().apply_async(args, kwargs, task_id, **options)
        # A retry re-sends the running task's own id: it is marked already.
        if self.request.id != result.id:
            mark_app_sent(self.app, result.id)
        return result


def _run(self: HandlerTask, item: Any) -> Any:
    handler = self.q2c_handler
    assert handler is not None, "HandlerTask without a handler"
    if self.q2c_decode is not None:
        # A refused type fails the task at once: retrying cannot make it decodable.
        item = self.q2c_decode(item)
    try:
        return resolve(handler.func(item))
    except PayloadError:
        raise
    except _CELERY_CONTROL:
        raise  # a handler written for Celery steers its own task
    except Exception as exc:
        # Once max_retries is used up, retry() raises ``exc`` itself, so the task fails
        # with the handler's own exception, as the legacy queue does.
        raise self.retry(exc=exc, countdown=handler.retry_delay) from exc


def register_handler(
    app: Celery, handler: Handler, *, decode: Callable[[Any], Any] | None = None
) -> HandlerTask:
    """Register (or replace) the task named ``handler.name`` on ``app``."""
    if handler.max_retries > 0:
        ensure_visibility_timeout(app, handler.retry_delay)
    existing = app.tasks.get(handler.name)
    if isinstance(existing, HandlerTask):
        # Same task object, new behaviour: whoever holds the task sees the change.
        existing.q2c_handler = handler
        existing.q2c_decode = decode
        existing.max_retries = handler.max_retries
        existing.default_retry_delay = handler.retry_delay
        return existing
    if existing is not None:
        app.tasks.unregister(handler.name)

    def run(self: HandlerTask, item: Any) -> Any:
        return _run(self, item)

    run.__name__ = run.__qualname__ = handler.name.rsplit(".", 1)[-1]
    run.__module__ = getattr(handler.func, "__module__", None) or __name__
    run.__doc__ = getattr(handler.func, "__doc__", None)
    task: HandlerTask = app.task(
        name=handler.name,
        base=HandlerTask,
        bind=True,
        shared=False,
        max_retries=handler.max_retries,
        default_retry_delay=handler.retry_delay,
        q2c_handler=handler,
        q2c_decode=decode,
    )(run)
    return task


def register_handlers(app: Celery, task_queue: TaskQueue | AdoptedQueue) -> dict[str, HandlerTask]:
    """One Celery task per handler of ``task_queue``, named exactly like the handler.

    The item travels as the task's one positional argument: ``task.apply_async(args=[item])``.
    Registering again replaces the function run under each name. Also raises the
    broker's visibility timeout above the longest retry delay. An adopted queue's tasks
    rebuild its listed classes (``types``) before the handler runs.
    """
    if not isinstance(task_queue, (TaskQueue, AdoptedQueue)):
        raise ConfigError(
            f"register_handlers(app, {type(task_queue).__name__}): expected a TaskQueue or "
            "the app's own queue wrapped with queue2celery.legacy_queue.adopt(queue, run=...) "
            "or adopt(queue, handlers=..., route=...)"
        )
    decode = task_queue.decode if isinstance(task_queue, AdoptedQueue) else None
    return {
        name: register_handler(app, handler, decode=decode)
        for name, handler in task_queue.handlers.items()
    }


def handler_task_names(app: Celery) -> list[str]:
    """The names a client may send: every task of ``app`` except Celery's own."""
    return sorted(name for name in app.tasks if not name.startswith("celery."))
