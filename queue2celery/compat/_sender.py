"""Sending a batch to Celery: payload checks, the publish, and the broker-outage policy.

Every message reaches Redis through one Lua script (see ``_publisher``): the fast path builds
it, the ``apply_async`` path captures what kombu built (see ``_capture``). The script carries
a deadline, so a publish Redis runs after its client gave up does nothing, and sets the sent
marker NX, so a task id is queued at most once, whichever path, retry or replay sends it.

A publish whose answer never came has an unknown outcome (Redis may have run it just before
it froze). It is never reported as "nothing enqueued" and never repeated blindly: ``raise``
says the task may be queued; ``spool`` keeps it and the replay checks the marker; ``legacy``
holds it (it must not also run in process) until the broker answers and the marker tells
(see ``_outage``).
"""

from __future__ import annotations

import logging
import threading
from typing import Any

import redis
from celery import Celery, Task
from kombu.exceptions import EncodeError

from ..celery_tasks import celery_status
from ..celery_tasks._capture import capture_connection, capturing
from ..celery_tasks.status import (
    backend_key_prefix,
    broker_key_prefix,
    mark_sent,
    marker_ttl,
    sent_client,
)
from ..errors import BrokerUnavailable, PayloadError
from ..legacy_queue import TaskQueue
from ..legacy_queue.adopt import AdoptedQueue
from ._background import CircuitBreaker
from ._handle import CeleryHandle
from ._ledger import Ledger, SendPolicy
from ._message import new_ids
from ._outage import BROKER_ERRORS, Item, Outage, maybe_written
from ._publisher import Prepared, Publisher, fast_path_blocker
from .payload import DRIFT_SERIALIZERS, drift, encode, unserializable
from .spool import ReplayResult, Spool

__all__ = ["Item", "Sender"]

log = logging.getLogger("queue2celery.compat")


def _same_redis(a: object, b: object) -> bool:
    return isinstance(a, str) and isinstance(b, str) and a.rstrip("/") == b.rstrip("/")


class Sender:
    """The Celery side of one CompatQueue: it reads a policy and writes a ledger."""

    def __init__(
        self,
        app: Celery,
        tasks: dict[str, Task],
        client: redis.Redis | None,
        policy: SendPolicy,
        ledger: Ledger,
        breaker: CircuitBreaker,
        *,
        spool: Spool | None = None,
        fallback: TaskQueue | AdoptedQueue | None = None,
    ) -> None:
        self.app = app
        self.tasks = tasks
        self.client = client
        self.policy = policy
        self.ledger = ledger
        self.breaker = breaker
        self.spool = spool
        self.fallback = fallback
        self.ttl = marker_ttl(app)
        conf = app.conf
        self.key_prefix = broker_key_prefix(app)
        # The marker lives next to the results; the publish script sets it on the broker, so
        # with a result backend elsewhere (or under another prefix) it is also set there.
        self.marker_in_pipeline = _same_redis(
            conf.broker_url, conf.result_backend
        ) and self.key_prefix == backend_key_prefix(app)
        self.app_blocker = fast_path_blocker(app) if client is not None else "no Redis broker"
        self._task_blockers: dict[str, str | None] = {}
        self._warned: set[str] = set()
        self._local = threading.local()
        self.publisher = (
            Publisher(
                app,
                client,
                marker_ttl=self.ttl,
                timeout=policy.broker_timeout,
                key_prefix=self.key_prefix,
            )
            if client is not None
            else None
        )
        self.outage = Outage(
            app,
            self.publisher,
            client,
            policy,
            ledger,
            breaker,
            spool=spool,
            fallback=fallback,
            marker_ttl=self.ttl,
        )

    # -- decisions ------------------------------------------------------------------
    def blocker(self, task: Task) -> str | None:
        """Why ``task`` is sent with ``apply_async`` instead of the fast path, or None."""
        if self.app_blocker is not None or self.publisher is None:
            return self.app_blocker
        if task.name not in self._task_blockers:
            reason = self.publisher.task_blocker(task)
            if reason is not None:
                log.info("task %s is sent with apply_async: %s", task.name, reason)
            self._task_blockers[task.name] = reason
        return self._task_blockers[task.name]

    def queue_keys(self, task: Task) -> list[str]:
        return self.publisher.queue_keys(task) if self.publisher is not None else []

    def status(self, task_id: str) -> dict[str, Any]:
        return celery_status(self.app, task_id)

    # -- payload ----------------------------------------------------------------------
    def _check_drift(self, task: Task, item: Any, serializer: str) -> None:
        if serializer not in DRIFT_SERIALIZERS:
            return
        found = drift(item)
        if found is None:
            return
        path, change = found
        if self.policy.strict:
            raise PayloadError(
                f"{path}: {change} on the way through {serializer}, and strict mode is on; "
                "send the type the handler expects (or build the queue with strict=False); "
                "nothing was enqueued",
                path=path,
            )
        if task.name not in self._warned:
            self._warned.add(task.name)
            log.warning(
                "task %s: %s: %s on the way through %s (the handler will receive the "
                "converted value; strict=True or Q2C_STRICT=1 makes this an error). "
                "Logged once per task.",
                task.name,
                path,
                change,
                serializer,
            )

    def _check_size(self, task_name: str, size: int) -> None:
        limit = self.policy.max_payload_bytes
        if size > limit:
            raise PayloadError(
                f"payload: the message for {task_name!r} is {size:,} bytes, over the "
                f"max_payload_bytes limit of {limit:,}; send a reference (a file path, an "
                "object-store key, a database id) instead of the data, or raise "
                "max_payload_bytes; nothing was enqueued"
            )

    def _payload_checked(self, task: Task, item: Any, serializer: str, build: Any) -> Any:
        """Run ``build()``; kombu's refusal and too-deep nesting become PayloadErrors."""
        try:
            try:
                result = build()
            except EncodeError as exc:
                raise unserializable(item, serializer, exc) from exc
            self._check_drift(task, item, serializer)
        except RecursionError as exc:
            raise PayloadError(
                "payload: nested deeper than Python's recursion limit "
                f"({type(exc).__name__}); flatten it (a list of rows instead of a chain of "
                "dicts) before it is sent; nothing was enqueued"
            ) from None
        return result

    def _prepare(self, task: Task, item: Any, task_id: str, priority: int, tag: str) -> Prepared:
        assert self.publisher is not None
        serializer = self.publisher.serializer_for(task)
        prepared: Prepared = self._payload_checked(
            task,
            item,
            serializer,
            lambda: self.publisher.prepare(task, item, task_id, priority, tag),
        )
        self._check_size(task.name, len(prepared.message))
        return prepared

    def _check(self, task: Task, item: Any) -> None:
        serializer = task.serializer or self.app.conf.task_serializer
        _, _, data = self._payload_checked(
            task, item, serializer, lambda: encode(([item], {}, {}), serializer)
        )
        self._check_size(task.name, len(data))

    def _capture(self, batch: list[Item]) -> list[Prepared]:
        """Celery's own apply_async for each item, with the push captured (no I/O)."""
        producer = getattr(self._local, "capture", None)
        if producer is None:
            producer = self.app.amqp.Producer(capture_connection(self.app))
            self._local.capture = producer
        prepared: list[Prepared] = []
        for it in batch:
            task = self.tasks[it.name]
            with capturing() as sink:
                # Task.apply_async itself: a HandlerTask would set the sent marker now,
                # before the push, and the push would then take the task for a duplicate.
                Task.apply_async(
                    task,
                    args=[it.item],
                    task_id=it.task_id,
                    priority=_clamp(it.priority),
                    retry=False,
                    producer=producer,
                )
            if not sink:
                raise PayloadError(
                    f"task {it.name!r}: Celery routed the message to no queue (a fanout "
                    "exchange or a route to an undeclared exchange); route it to a queue; "
                    "nothing was enqueued"
                )
            for key, message in sink:
                self._check_size(it.name, len(message))
                prepared.append(Prepared(it.task_id, it.name, key, message, self.key_prefix))
        return prepared

    # -- send ---------------------------------------------------------------------------
    def send(self, batch: list[Item]) -> list[Any]:
        """Send every item or none; on a broker failure apply the outage policy to all."""
        tasks = self.tasks
        prepared: list[Prepared] | None = None
        if all(self.blocker(tasks[it.name]) is None for it in batch):
            tags = new_ids(len(batch))
            prepared = [
                self._prepare(tasks[it.name], it.item, it.task_id, it.priority, tag)
                for it, tag in zip(batch, tags, strict=True)
            ]
        else:
            for it in batch:
                self._check(tasks[it.name], it.item)
            if self.publisher is not None:
                prepared = self._capture(batch)
        if self.breaker.is_open:
            return self._outage(batch, prepared, self.breaker.last_error, waited=False)
        if prepared is None:
            return self._send_through_celery(batch)
        assert self.publisher is not None
        try:
            self.publisher.publish(prepared)
        except BROKER_ERRORS as exc:
            self._tripped(exc)
            maybe = maybe_written(exc)
            return self._outage(batch, prepared, exc, waited=True, maybe_sent=maybe)
        if not self.marker_in_pipeline:
            self._mark_elsewhere(sorted({p.task_id for p in prepared}))
        return self._sent(batch)

    def _send_through_celery(self, batch: list[Item]) -> list[Any]:
        """Not a single Redis URL (AMQP, sentinel, a failover list): Celery publishes."""
        done = 0
        try:
            producer = self._producer()
            for it in batch:
                self.tasks[it.name].apply_async(
                    args=[it.item],
                    task_id=it.task_id,
                    priority=_clamp(it.priority),
                    retry=False,
                    producer=producer,
                )
                done += 1
        except BROKER_ERRORS as exc:
            self._drop_producer()
            self._tripped(exc)
            handles = self._sent(batch[:done])
            rest = batch[done:]
            maybe = maybe_written(exc)
            return handles + self._outage(rest, None, exc, waited=True, maybe_sent=maybe)
        return self._sent(batch)

    def _tripped(self, exc: BaseException) -> None:
        if self.breaker.trip(exc):
            log.warning(
                "broker %s does not answer: %s",
                self.policy.redacted_broker_url,
                self.policy.scrub(repr(exc)),
            )

    def _producer(self) -> Any:
        """This thread's kombu producer, on a connection with the queue's bounded timeouts.

        Celery's own producer pool uses the app's socket timeouts (5 s in make_celery_app,
        per socket operation); the apply_async path must give up as fast as the fast path.
        """
        producer = getattr(self._local, "producer", None)
        if producer is None:
            timeout = self.policy.broker_timeout
            options = dict(self.app.conf.broker_transport_options or {})
            options.update(socket_timeout=timeout, socket_connect_timeout=timeout)
            connection = self.app.connection_for_write(
                transport_options=options, connect_timeout=timeout
            )
            producer = self.app.amqp.Producer(connection)
            self._local.producer = producer
        return producer

    def _drop_producer(self) -> None:
        producer = getattr(self._local, "producer", None)
        self._local.producer = None
        if producer is not None:
            try:
                producer.connection.release()
            except Exception:  # closing a broken connection may fail too
                log.debug("closing the apply_async connection failed", exc_info=True)

    def _sent(self, batch: list[Item]) -> list[Any]:
        for it in batch:
            self.ledger.count(it.name, "celery")
        self.ledger.track(it.task_id for it in batch)
        return [CeleryHandle(it.task_id, self.app) for it in batch]

    def _mark_elsewhere(self, task_ids: list[str]) -> None:
        try:
            prefix = backend_key_prefix(self.app)
            with sent_client(self.app).pipeline(transaction=False) as pipe:
                for task_id in task_ids:
                    mark_sent(pipe, task_id, ttl=self.ttl, prefix=prefix)
                pipe.execute()
        except Exception as exc:  # the messages are out; never send twice
            log.warning(
                "sent %d task(s) but could not set their sent markers: %s",
                len(task_ids),
                self.policy.scrub(repr(exc)),
            )

    # -- outage ---------------------------------------------------------------------------
    def unavailable(
        self,
        exc: BaseException | None,
        *,
        waited: bool = True,
        task_ids: list[str] | None = None,
        maybe_sent: bool = False,
    ) -> BrokerUnavailable:
        return self.outage.unavailable(exc, waited=waited, task_ids=task_ids, maybe_sent=maybe_sent)

    def _outage(
        self,
        batch: list[Item],
        prepared: list[Prepared] | None,
        exc: BaseException | None,
        *,
        waited: bool,
        maybe_sent: bool = False,
    ) -> list[Any]:
        return self.outage.apply(batch, prepared, exc, waited=waited, maybe_sent=maybe_sent)

    def replay(self) -> ReplayResult | None:
        """Send the held messages and the spool (each task id at most once); None if idle."""
        return self.outage.replay()


def _clamp(priority: int) -> int:
    return min(max(int(priority), 0), 9)
