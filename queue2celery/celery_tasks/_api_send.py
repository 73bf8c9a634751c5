"""``POST /tasks/{name}``'s send: bounded, honest about its outcome, idempotent by task id.

Celery's ``apply_async`` on a frozen Redis retries inside kombu for tens of seconds, and its
LPUSH runs when Redis thaws, after the client answered 503: a client that retries then
queues the task twice. Here Celery builds the message (routing, signals, compression, its
own checks) through a capturing producer that touches no server, and the message is pushed
with the deadline-and-marker script (see ``_push``): at most two bounded round trips, a late
push does nothing, and a task id is queued at most once, so a retry with the same id is safe.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any

import redis
from celery import Celery, Task

from ._capture import capture_connection, capturing
from ._push import GuardedPush, PublishExpired
from .status import backend_key_prefix, broker_key_prefix, mark_app_sent, marker_ttl, sent_key

__all__ = ["ApiSender", "SendOutcome"]

_REDIS_SCHEMES = ("redis://", "rediss://", "unix://")


@dataclass(frozen=True)
class SendOutcome:
    """What a send did: ``sent`` True (queued, or queued before), False (certainly not), None
    (unknown: the push was written and no answer came)."""

    task_id: str
    sent: bool | None
    duplicate: bool = False
    error: BaseException | None = None


def _maybe_written(exc: BaseException) -> bool:
    if isinstance(exc, PublishExpired):
        return False
    text = str(exc).lower()
    return "connecting to" not in text and "connection refused" not in text


class ApiSender:
    """Sends one task per call for the status API; every wait bounded by ``timeout``."""

    def __init__(self, app: Celery, timeout: float) -> None:
        self.app = app
        self.timeout = timeout
        url = app.conf.broker_write_url or app.conf.broker_url
        self.client: redis.Redis | None = None
        if isinstance(url, str) and ";" not in url and url.startswith(_REDIS_SCHEMES):
            self.client = redis.Redis.from_url(
                url,
                socket_timeout=timeout,
                socket_connect_timeout=timeout,
                retry=None,
                health_check_interval=0,
            )
        self._push: GuardedPush | None = None
        self._local = threading.local()
        self.prefix = broker_key_prefix(app)
        same = str(app.conf.result_backend).rstrip("/") == str(url).rstrip("/")
        self.marker_elsewhere = not same or backend_key_prefix(app) != self.prefix

    def _capture(self, task: Task, item: Any, task_id: str) -> list[tuple[str, str]]:
        producer = getattr(self._local, "producer", None)
        if producer is None:
            producer = self.app.amqp.Producer(capture_connection(self.app))
            self._local.producer = producer
        with capturing() as sink:
            # Task.apply_async itself: a HandlerTask would mark the id sent before the push.
            Task.apply_async(task, args=[item], task_id=task_id, retry=False, producer=producer)
        return sink

    def send(self, task: Task, item: Any, task_id: str) -> SendOutcome:
        """Raises TypeError / kombu's EncodeError for an item the task cannot take."""
        if self.client is None:
            return self._send_through_celery(task, item, task_id)
        captured = self._capture(task, item, task_id)
        marker = sent_key(task_id, self.prefix)
        try:
            if self._push is None:
                push = GuardedPush(
                    self.client, marker_ttl=marker_ttl(self.app), timeout=self.timeout
                )
                push.sync_clock()  # read-only: a failure here sent nothing
                self._push = push
            pushed = self._push.push([(key, message, marker) for key, message in captured])
        except redis.RedisError as exc:
            written = self._push is not None and _maybe_written(exc)
            return SendOutcome(task_id, None if written else False, error=exc)
        if pushed and self.marker_elsewhere:
            # Off the request's clock: the backend has its own (longer) socket timeouts.
            threading.Thread(target=mark_app_sent, args=(self.app, task_id), daemon=True).start()
        return SendOutcome(task_id, True, duplicate=pushed == 0)

    def _send_through_celery(self, task: Task, item: Any, task_id: str) -> SendOutcome:
        """Not a single Redis URL: Celery publishes, and the answer waits at most ``timeout``."""
        done: dict[str, Any] = {}

        def run() -> None:
            try:
                task.apply_async(args=[item], task_id=task_id, retry=False)
                done["ok"] = True
            except BaseException as exc:
                done["error"] = exc

        thread = threading.Thread(target=run, daemon=True)
        thread.start()
        thread.join(self.timeout)
        if "ok" in done:
            return SendOutcome(task_id, True)
        error = done.get("error")
        if isinstance(error, (TypeError, ValueError)):
            raise error
        return SendOutcome(task_id, None, error=error or TimeoutError("no answer in time"))
