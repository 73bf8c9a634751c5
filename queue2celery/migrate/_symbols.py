"""Names scan and rewrite agree on: the queue classes, FastAPI's BackgroundTasks, and the
symbolic receivers (``@state.x``, ``@ret:f``, ``@type:C``) the cross-file linker resolves.
Standard library only: scan and check import this without libcst."""

from __future__ import annotations

QUEUE_CLASSES = frozenset(
    {"queue.Queue", "queue.PriorityQueue", "queue.SimpleQueue", "queue.LifoQueue"}
)
# An asyncio queue drained by a task is a task queue too (its put is awaited or put_nowait);
# one no task drains (a pub/sub channel read by an SSE generator) is not.
ASYNC_QUEUE_CLASSES = frozenset({"asyncio.Queue", "asyncio.PriorityQueue", "asyncio.LifoQueue"})
BACKGROUND_TASKS = frozenset(
    {
        "fastapi.BackgroundTasks",
        "fastapi.background.BackgroundTasks",
        "starlette.background.BackgroundTasks",
    }
)
STATE = "@state."  # an attribute of a FastAPI/Starlette app's ``state``
RET = "@ret:"  # what calling the named function or class returns
TYPE = "@type:"  # an instance of the named class, by declaration


def is_legacy_task_queue_class(name: str) -> bool:
    """queue2celery's own legacy ``TaskQueue``, wherever it is imported from."""
    return name.startswith("queue2celery.legacy_queue") and name.endswith(".TaskQueue")
