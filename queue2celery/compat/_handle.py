"""The handle of a task sent to Celery: the legacy handle's API, read from the result backend."""

from __future__ import annotations

import time
from typing import Any

from celery import Celery

from ..celery_tasks import celery_status

__all__ = ["FINISHED", "CeleryHandle", "wait_for"]

FINISHED = frozenset({"SUCCESS", "FAILURE"})


def wait_for(app: Celery, task_id: str, timeout: float | None = None) -> dict[str, Any]:
    """Poll the result backend until the task finished or ``timeout`` passed."""
    deadline = None if timeout is None else time.monotonic() + timeout
    delay = 0.02
    while True:
        status = celery_status(app, task_id)
        if status["status"] in FINISHED:
            return status
        if deadline is not None:
            left = deadline - time.monotonic()
            if left <= 0:
                return status
            delay = min(delay, left)
        time.sleep(delay)
        delay = min(delay * 1.5, 0.5)


class CeleryHandle:
    """A task sent to Celery (or kept in the spool until the broker is back)."""

    __slots__ = ("_app", "backend", "id", "spooled")

    def __init__(self, task_id: str, app: Celery, *, spooled: bool = False) -> None:
        self.id = task_id
        self.backend = "celery"
        self.spooled = spooled
        self._app = app

    def status(self) -> dict[str, Any]:
        """The common status dict, from the result backend (PENDING until a worker starts it)."""
        return celery_status(self._app, self.id)

    def wait(self, timeout: float | None = None) -> dict[str, Any]:
        """Block until SUCCESS or FAILURE (or ``timeout``); returns the status dict."""
        return wait_for(self._app, self.id, timeout)

    def __repr__(self) -> str:
        extra = " spooled" if self.spooled else ""
        return f"<CeleryHandle {self.id}{extra}>"
