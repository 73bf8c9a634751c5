"""Sending a batch to Celery: payload checks, the publish, and the broker-outage policy."""

from __future__ import annotations

import logging
import threading
import time
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import redis
from celery import Task
from kombu.exceptions import EncodeError, OperationalError

from ..celery_tasks import celery_status
from ..celery_tasks.status import mark_sent, sent_client, sent_ttl
from ..errors import BrokerUnavailable, PayloadError
from ._handle import CeleryHandle
from ._message import new_ids
from ._publisher import Prepared, Publisher, fast_path_blocker
from .payload import DRIFT_SERIALIZERS, drift, encode, unserializable
from .spool import ReplayResult

if TYPE_CHECKING:
    from .compat_queue import CompatQueue

__all__ = ["Item", "Sender"]

log = logging.getLogger("queue2celery.compat")

# (task name, item, task id, priority)
Item = tuple[str, Any, str, int]
_BROKER_ERRORS = (redis.RedisError, OperationalError, ConnectionError, TimeoutError)


def _same_redis(a: object, b: object) -> bool:
    return isinstance(a, str) and isinstance(b, str) and a.rstrip("/") == b.rstrip("/")


class Sender:
    """The Celery side of one CompatQueue."""

    def __init__(self, owner: CompatQueue, client: redis.Redis | None, *, strict: bool) -> None:
        self.owner = owner
        self.app = owner.app
        self.client = client
        self.strict = strict
        self.ttl = sent_ttl(self.app)
        conf = self.app.conf
        # The marker lives next to the results; the publish script sets it on the broker, so
        # with a result backend elsewhere it is also set there.
        self.marker_in_pipeline = _same_redis(conf.broker_url, conf.result_backend)
        self.app_blocker = fast_path_blocker(self.app) if client is not None else "no Redis broker"
        self._task_blockers: dict[str, str | None] = {}
        self._warned: set[str] = set()
        self._local = threading.local()
        self.publisher = (
            Publisher(self.app, client, marker_ttl=self.ttl, timeout=owner.broker_timeout)
            if client is not None
            else None
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
        if self.strict:
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

    def _prepare(self, task: Task, item: Any, task_id: str, priority: int, tag: str) -> Prepared:
        assert self.publisher is not None
        serializer = self.publisher.serializer_for(task)
        try:
            prepared = self.publisher.prepare(task, item, task_id, priority, tag)
        except EncodeError as exc:
            raise unserializable(item, serializer, exc) from exc
        self._check_drift(task, item, serializer)
        return prepared

    def _check(self, task: Task, item: Any) -> None:
        serializer = task.serializer or self.app.conf.task_serializer
        try:
            encode(([item], {}, {}), serializer)
        except EncodeError as exc:
            raise unserializable(item, serializer, exc) from exc
        self._check_drift(task, item, serializer)

    # -- send ---------------------------------------------------------------------------
    def send(self, batch: list[Item]) -> list[Any]:
        """Send every item or none; on a broker failure apply the outage policy to all."""
        tasks = self.owner.tasks
        fast = all(self.blocker(tasks[name]) is None for name, *_ in batch)
        prepared: list[Prepared] | None = None
        if fast:
            tags = new_ids(len(batch))
            prepared = [
                self._prepare(tasks[n], item, tid, pri, tag)
                for (n, item, tid, pri), tag in zip(batch, tags, strict=True)
            ]
        else:
            for name, item, _tid, _pri in batch:
                self._check(tasks[name], item)
        if self.owner.breaker.is_open:
            return self._outage(batch, prepared, self.owner.breaker.last_error, waited=False)
        done = 0
        try:
            if prepared is not None:
                assert self.publisher is not None
                self.publisher.publish(prepared)
                done = len(batch)
                if not self.marker_in_pipeline:
                    self._mark_elsewhere([p.task_id for p in prepared])
            else:
                producer = self._producer()
                for name, item, task_id, priority in batch:
                    tasks[name].apply_async(
                        args=[item],
                        task_id=task_id,
                        priority=_clamp(priority),
                        retry=False,
                        producer=producer,
                    )
                    done += 1
        except _BROKER_ERRORS as exc:
            self._drop_producer()
            if self.owner.breaker.trip(exc):
                log.warning("broker %s does not answer: %r", self.owner.redacted_broker_url, exc)
            handles = self._sent(batch[:done])
            return handles + self._outage(batch[done:], _rest(prepared, done), exc, waited=True)
        return self._sent(batch)

    def _producer(self) -> Any:
        """This thread's kombu producer, on a connection with the queue's bounded timeouts.

        Celery's own producer pool uses the app's socket timeouts (5 s in make_celery_app,
        per socket operation); the apply_async path must give up as fast as the fast path.
        """
        producer = getattr(self._local, "producer", None)
        if producer is None:
            timeout = self.owner.broker_timeout
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
        for name, *_ in batch:
            self.owner.count(name, "celery")
        self.owner.track(task_id for _n, _i, task_id, _p in batch)
        return [CeleryHandle(task_id, self.app) for _n, _i, task_id, _p in batch]

    def _mark_elsewhere(self, task_ids: list[str]) -> None:
        try:
            with sent_client(self.app).pipeline(transaction=False) as pipe:
                for task_id in task_ids:
                    mark_sent(pipe, task_id, ttl=self.ttl)
                pipe.execute()
        except Exception as exc:  # the messages are out; never send twice
            log.warning(
                "sent %d task(s) but could not set their sent markers: %r", len(task_ids), exc
            )

    # -- outage ---------------------------------------------------------------------------
    def unavailable(self, exc: BaseException | None, *, waited: bool = True) -> BrokerUnavailable:
        owner = self.owner
        detail = _scrub(f"{type(exc).__name__}: {exc}", owner.broker_url) if exc else "no answer"
        how = (
            "did not answer"
            if waited
            else f"is known to be down (a probe checks every {owner.probe_interval:g} s)"
        )
        opened = owner.breaker.opened_at
        since = ""
        if not waited and opened is not None:
            since = f" since {time.monotonic() - opened:.1f}s ago"
        return BrokerUnavailable(
            f"the broker {owner.redacted_broker_url} {how}{since} ({detail}); nothing was "
            "enqueued. Start Redis (or fix REDIS_URL / CELERY_BROKER_URL), or build the "
            "CompatQueue with on_broker_error='legacy' or 'spool' to keep working during outages"
        )

    def _outage(
        self,
        batch: list[Item],
        prepared: list[Prepared] | None,
        exc: BaseException | None,
        *,
        waited: bool,
    ) -> list[Any]:
        if not batch:
            return []
        owner = self.owner
        policy = owner.on_broker_error
        if policy == "legacy":
            if waited:
                log.warning(
                    "broker %s is down: running %d task(s) in process (on_broker_error='legacy')",
                    owner.redacted_broker_url,
                    len(batch),
                )
            handles = []
            for name, item, task_id, priority in batch:
                owner.count(name, "fallback")
                handles.append(owner.task_queue.put(item, priority=priority, task_id=task_id))
            return handles
        if policy == "spool" and owner.spool is not None:
            if prepared is None:
                if self.publisher is None:
                    raise self.unavailable(exc, waited=waited)
                tasks = owner.tasks
                tags = new_ids(len(batch))
                prepared = [
                    self.publisher.prepare(tasks[n], item, tid, pri, tag)
                    for (n, item, tid, pri), tag in zip(batch, tags, strict=True)
                ]
            owner.spool.add(prepared)
            owner.spooled()
            log.log(
                logging.WARNING if waited else logging.DEBUG,
                "broker %s is down: kept %d task(s) in the spool %s; they are sent when it is back",
                owner.redacted_broker_url,
                len(prepared),
                owner.spool.path,
            )
            for name, *_ in batch:
                owner.count(name, "celery")
            return [CeleryHandle(p.task_id, self.app, spooled=True) for p in prepared]
        raise self.unavailable(exc, waited=waited) from exc

    def replay_spool(self) -> ReplayResult:
        owner = self.owner
        assert owner.spool is not None and self.client is not None
        result = owner.spool.replay(
            self.client, marker_ttl=self.ttl, redacted_url=owner.redacted_broker_url
        )
        return result


def _clamp(priority: int) -> int:
    return min(max(int(priority), 0), 9)


def _rest(prepared: list[Prepared] | None, done: int) -> list[Prepared] | None:
    return None if prepared is None else prepared[done:]


def _scrub(text: str, url: str) -> str:
    try:
        password = urlsplit(url).password
    except ValueError:
        return text
    return text.replace(password, "***") if password else text
