"""The status API: send a task by name, read its status, over HTTP (FastAPI)."""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from celery import Celery
from fastapi import APIRouter, Body, Header, HTTPException, Query
from kombu.exceptions import EncodeError, OperationalError
from redis.exceptions import RedisError

from ..errors import ConfigError, redact_text, redact_url
from ._api_send import ApiSender
from .locate import locate_task
from .status import backend_key_prefix, celery_status, sent_client, was_sent
from .tasks import handler_task_names

__all__ = ["DEFAULT_SEND_TIMEOUT", "make_router"]

# Seconds each of the (at most two) Redis round trips of a send may take: the answer comes
# within 2 x this, and the API promises at most 5 s.
DEFAULT_SEND_TIMEOUT = 2.0
# Messages a status read looks through per queue list (doctor --task reads far more).
_API_SCAN_LIMIT = 10_000
# A client-given task id: what Celery and Redis keys take without quoting.
_TASK_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:@+=-]{0,199}$")

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


def _task_id(query: str | None, header: str | None) -> str:
    import uuid

    given = [v for v in (query, header) if v]
    if len(set(given)) > 1:
        raise HTTPException(
            status_code=422,
            detail=f"task_id={query!r} and Idempotency-Key={header!r} differ: give one of them",
        )
    if not given:
        return str(uuid.uuid4())
    if not _TASK_ID.match(given[0]):
        raise HTTPException(
            status_code=422,
            detail=(
                f"task id {given[0]!r} is not usable: use 1-200 letters, digits and ._:@+=- "
                "(a UUID is best)"
            ),
        )
    return given[0]


def _not_sent(app: Celery, task_id: str, maybe: bool, exc: BaseException | None) -> HTTPException:
    what = (
        "the message was written and no answer came: the task MAY be queued"
        if maybe
        else "the task was NOT queued"
    )
    cause = redact_text(f"{type(exc).__name__}: {exc}", app.conf.broker_url) if exc else "no answer"
    return HTTPException(
        status_code=503,
        detail={
            "message": (
                f"Redis did not answer in time ({cause}): broker "
                f"{redact_url(app.conf.broker_url)}; {what}. Check that Redis runs, then "
                f"POST again with task_id={task_id}: a task id is queued at most once"
            ),
            "task_id": task_id,
            "may_have_been_sent": maybe,
        },
    )


def make_router(
    app: Celery,
    *,
    send_timeout: float = DEFAULT_SEND_TIMEOUT,
    locate_timeout: float = 2.0,
    spool_paths: Sequence[str | os.PathLike[str]] = (),
) -> APIRouter:
    """``POST /tasks/{name}`` sends the JSON body as the item; ``GET /tasks/{task_id}`` reads.

    A send answers within ``2 * send_timeout`` seconds (at most 5): 202 with the task id, or
    503 saying whether the task may have been queued. The client may choose the task id
    (``?task_id=`` or an ``Idempotency-Key`` header): a retry with the same id never queues
    a second copy. ``GET`` adds ``location``: the task's one state with its evidence (see
    ``celery_tasks.locate``, read from Redis alone, each read bounded by ``locate_timeout``
    seconds; ``doctor --task`` also asks the workers; ``spool_paths`` are the spools of the
    processes that send). Both endpoints are plain
    functions, so FastAPI runs them in its threadpool and a slow Redis never blocks the
    event loop.
    """
    if not 0 < send_timeout <= 2.5:
        raise ConfigError(f"send_timeout={send_timeout!r}: use a value in (0, 2.5] seconds")
    router = APIRouter()
    sender = ApiSender(app, send_timeout)
    spools = [Path(p) for p in spool_paths]

    @router.post("/tasks/{name}", status_code=202)
    def send_task(
        name: str,
        item: Any = Body(default=None),  # noqa: B008
        task_id: str | None = Query(default=None),
        idempotency_key: str | None = Header(default=None),
    ) -> dict[str, Any]:
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
        chosen = _task_id(task_id, idempotency_key)
        try:
            outcome = sender.send(task, item, chosen)
        except TypeError as exc:
            # Celery checks the arguments against the task's signature before sending.
            raise HTTPException(
                status_code=422,
                detail=f"task {name!r} does not take the item as its one argument: {exc}",
            ) from exc
        except (EncodeError, ValueError, RecursionError) as exc:
            raise HTTPException(
                status_code=422,
                detail=f"task {name!r}: the item cannot be serialized ({type(exc).__name__})",
            ) from None
        if not outcome.sent:
            raise _not_sent(app, chosen, outcome.sent is None, outcome.error)
        return {"task_id": chosen, "status": "pending", "duplicate": outcome.duplicate}

    @router.get("/tasks/{task_id}")
    def task_status(task_id: str) -> dict[str, Any]:
        """The task's status; its result once SUCCESS, its error's type and message once
        FAILURE (never a traceback); ``location``: where it is. 404 for an id nobody sent."""
        try:
            status = celery_status(app, task_id)
            # No broadcast to the workers here (each costs up to its timeout, on every
            # poll): Redis alone places the task; doctor --task also asks the workers.
            where = locate_task(
                app,
                task_id,
                timeout=locate_timeout,
                spool_paths=spools,
                ask_workers=False,
                scan_limit=_API_SCAN_LIMIT,
            )
            prefix = backend_key_prefix(app)
            if where.state == "never_sent" and not was_sent(sent_client(app), task_id, prefix):
                raise HTTPException(
                    status_code=404,
                    detail=f"no task with id {task_id!r} was sent (or its record expired)",
                )
        except _UNAVAILABLE as exc:
            raise _unavailable(app, exc) from exc
        return {**status, "location": where.to_dict()}

    return router
