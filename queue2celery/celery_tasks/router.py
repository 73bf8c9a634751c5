"""The status API: send a task by name, read its status, over HTTP (FastAPI)."""

from __future__ import annotations

from typing import Any

from celery import Celery
from fastapi import APIRouter, Body, HTTPException
from kombu.exceptions import OperationalError
from redis.exceptions import RedisError

from ..errors import redact_url
from .status import celery_status, mark_app_sent, sent_client, was_sent
from .tasks import HandlerTask, handler_task_names

__all__ = ["make_router"]

# Redis or the broker not answering within the app's socket timeouts.
_UNAVAILABLE = (OperationalError, RedisError, ConnectionError, TimeoutError)


def _unavailable(app: Celery, exc: BaseException) -> HTTPException:
    return HTTPException(
        status_code=503,
        detail=(
            f"Redis did not answer ({type(exc).__name__}): broker "
            f"{redact_url(app.conf.broker_url)}, result backend "
            f"{redact_url(app.conf.result_backend)}; check that Redis runs, then retry"
        ),
    )


def make_router(app: Celery) -> APIRouter:
    """``POST /tasks/{name}`` sends the JSON body as the item; ``GET /tasks/{task_id}`` reads.

    Both endpoints are plain functions, so FastAPI runs them in its threadpool and a
    slow Redis never blocks the event loop.
    """
    router = APIRouter()

    @router.post("/tasks/{name}", status_code=202)
    def send_task(name: str, item: Any = Body(default=None)) -> dict[str, Any]:  # noqa: B008
        """Send the request body as the one argument of task ``name``."""
        known = handler_task_names(app)
        if name not in known:
            raise HTTPException(
                status_code=404,
                detail={
                    "message": f"unknown task {name!r}: send to one of the known tasks",
                    "known_tasks": known,
                },
            )
        task = app.tasks[name]
        try:
            result = task.apply_async(args=[item])
        except TypeError as exc:
            # Celery checks the arguments against the task's signature before sending.
            raise HTTPException(
                status_code=422,
                detail=f"task {name!r} does not take the item as its one argument: {exc}",
            ) from exc
        except _UNAVAILABLE as exc:
            raise _unavailable(app, exc) from exc
        if not isinstance(task, HandlerTask):  # HandlerTask marks its own sends
            mark_app_sent(app, result.id)
        return {"task_id": result.id, "status": "pending"}

    @router.get("/tasks/{task_id}")
    def task_status(task_id: str) -> dict[str, Any]:
        """The task's status; its result once SUCCESS, its error's type and message once
        FAILURE (never a traceback). 404 for an id nobody sent."""
        try:
            status = celery_status(app, task_id)
            if status["status"] == "PENDING" and not was_sent(sent_client(app), task_id):
                raise HTTPException(
                    status_code=404,
                    detail=f"no task with id {task_id!r} was sent (or its record expired)",
                )
        except _UNAVAILABLE as exc:
            raise _unavailable(app, exc) from exc
        return status

    return router
