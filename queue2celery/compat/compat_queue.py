"""CompatQueue: the legacy TaskQueue's producer API, sending to Celery as the rollout says."""

from __future__ import annotations

import asyncio
import atexit
import functools
import logging
import os
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Mapping
from typing import Any, Literal, NamedTuple

import redis
from celery import Celery

from ..celery_tasks import register_handlers
from ..errors import BrokerUnavailable, ConfigError, redact_url
from ..legacy_queue import TaskQueue
from ..legacy_queue.adopt import AdoptedQueue
from ._adopted import AdoptedMethods, AdoptedSend
from ._background import Background, CircuitBreaker, Job
from ._handle import FINISHED
from ._ledger import DEFAULT_MAX_PAYLOAD_BYTES, Ledger, SendPolicy
from ._message import new_ids
from ._publisher import fast_path_scheme
from ._sender import Item, Sender
from .rollout import Rollout
from .rollout_store import DEFAULT_NAMESPACE, RolloutStore
from .spool import Spool

__all__ = ["STRICT_ENV_VAR", "CompatQueue", "OnBrokerError"]

log = logging.getLogger("queue2celery.compat")

OnBrokerError = Literal["raise", "legacy", "spool"]
STRICT_ENV_VAR = "Q2C_STRICT"
_POLICIES = ("raise", "legacy", "spool")


class Routed(NamedTuple):
    """One item of a put_many, with the backend the rollout chose for it."""

    backend: str
    name: str
    item: Any
    task_id: str


class CompatQueue(AdoptedMethods):
    """A legacy ``TaskQueue`` twin whose puts go to Celery or stay in process per the rollout.

    Building it registers every handler of ``task_queue`` as a Celery task of the same
    name on ``app``, so a module that builds it is all ``celery -A module worker`` needs.
    Environment variables are read here, once (``rollout=None`` -> ``Q2C_ROLLOUT``,
    ``strict=None`` -> ``Q2C_STRICT``, spool path -> ``Q2C_SPOOL_PATH``), never per put.
    Background work (override refresh, counters, broker probe, spool replay) runs in one
    daemon thread that starts with the first put.
    """

    def __init__(
        self,
        task_queue: TaskQueue | AdoptedQueue,
        app: Celery,
        *,
        rollout: Rollout | None = None,
        on_broker_error: OnBrokerError = "raise",
        key: Callable[[Any], object] | None = None,
        strict: bool | None = None,
        namespace: str = DEFAULT_NAMESPACE,
        spool_path: str | os.PathLike[str] | None = None,
        broker_timeout: float = 2.0,
        probe_interval: float = 0.5,
        refresh_interval: float = 2.0,
        max_payload_bytes: int = DEFAULT_MAX_PAYLOAD_BYTES,
    ) -> None:
        if on_broker_error not in _POLICIES:
            raise ConfigError(
                f"on_broker_error={on_broker_error!r}: choose one of {', '.join(_POLICIES)}"
            )
        if not 0 < broker_timeout <= 5:
            raise ConfigError(f"broker_timeout={broker_timeout!r}: use a value in (0, 5] seconds")
        if not isinstance(max_payload_bytes, int) or max_payload_bytes <= 0:
            raise ConfigError(
                f"max_payload_bytes={max_payload_bytes!r}: use a positive number of bytes"
            )
        self.task_queue = task_queue
        self.app = app
        self.tasks = register_handlers(app, task_queue)
        # The app's own queue, adopted: puts split entries, keep the sentinel, encode objects.
        self._adopted: AdoptedSend | None = None
        if isinstance(task_queue, AdoptedQueue):
            self._adopted = AdoptedSend(task_queue, app)
            # Held here: the signal keeps only a weak reference, so it goes with this queue.
            self._worker_init = _register_in_worker(app, task_queue)
        self.rollout = rollout if rollout is not None else Rollout.from_env()
        self.strict = strict if strict is not None else os.environ.get(STRICT_ENV_VAR) == "1"
        self.on_broker_error: OnBrokerError = on_broker_error
        self.key = key
        self.namespace = namespace
        self.broker_timeout = broker_timeout
        self.probe_interval = probe_interval
        self.broker_url = str(app.conf.broker_url)
        self.redacted_broker_url = redact_url(self.broker_url)
        self.max_payload_bytes = max_payload_bytes
        self.client = _broker_client(self.broker_url, broker_timeout)
        prefix = str((app.conf.broker_transport_options or {}).get("global_keyprefix") or "")
        self.store = (
            RolloutStore(self.client, namespace, prefix) if self.client is not None else None
        )
        spool: Spool | None = None
        if on_broker_error == "spool":
            spool = Spool(spool_path) if spool_path is not None else Spool.from_env()
        self.spool = spool
        self.breaker = CircuitBreaker()
        self.ledger = Ledger()
        self.ledger.replay_due = spool is not None and spool.count() > 0
        policy = SendPolicy(
            on_broker_error=on_broker_error,
            strict=self.strict,
            broker_url=self.broker_url,
            broker_timeout=broker_timeout,
            probe_interval=probe_interval,
            max_payload_bytes=max_payload_bytes,
            secret_sources=(app.conf.broker_transport_options or {}, str(app.conf.result_backend)),
        )
        self.sender = Sender(
            app,
            self.tasks,
            self.client,
            policy,
            self.ledger,
            self.breaker,
            spool=spool,
            fallback=task_queue,
        )
        self._overrides: Mapping[str, float] = {}
        self._lock = threading.Lock()
        self._reported = False
        self._started_pid: int | None = None
        self._background = Background(
            f"q2c-compat-{namespace}",
            [
                Job("probe", probe_interval, self._probe),
                Job("refresh", refresh_interval, self._refresh),
                Job("replay", max(refresh_interval, 1.0), self._replay),
            ],
        )

    @classmethod
    def from_env(
        cls, task_queue: TaskQueue | AdoptedQueue, app: Celery, **kwargs: Any
    ) -> CompatQueue:
        """Like the constructor with rollout, strictness and spool path from the environment."""
        kwargs.setdefault("rollout", Rollout.from_env())
        kwargs.setdefault("strict", os.environ.get(STRICT_ENV_VAR) == "1")
        return cls(task_queue, app, **kwargs)

    # -- producer API -------------------------------------------------------------
    def backend_for(self, item: Any, task_id: str) -> tuple[str, str]:
        """``(task name, "legacy" | "celery")`` for an item, with the live override."""
        if self._adopted is not None:
            item = self._adopted.split(item)[1]
        name = self.task_queue.handler_for(item).name
        key = self.key(item) if self.key is not None else task_id
        return name, self.rollout.backend_for(name, key, self._overrides)

    def put(
        self,
        item: Any,
        block: bool = True,
        timeout: float | None = None,
        *,
        priority: int = 0,
        task_id: str | None = None,
    ) -> Any:
        """Send ``item`` to Celery or put it on the legacy queue; returns its handle.

        On an adopted asyncio.Queue this returns an awaitable, like the queue's own put.
        """
        self._ensure_started()
        task_id = task_id or str(uuid.uuid4())
        if self._adopted is not None:
            if self._adopted.adopted.is_async and block:
                return self._aput_adopted(item, task_id)
            return self._put_adopted(item, block, timeout, task_id)
        name, backend = self.backend_for(item, task_id)
        if backend == "legacy":
            self.ledger.count(name, "legacy")
            return self.task_queue.put(item, block, timeout, priority=priority, task_id=task_id)
        return self.sender.send([Item(name, item, task_id, priority)])[0]

    def put_nowait(self, item: Any, *, priority: int = 0, task_id: str | None = None) -> Any:
        return self.put(item, block=False, priority=priority, task_id=task_id)

    async def aput(
        self,
        item: Any,
        block: bool = True,
        timeout: float | None = None,
        *,
        priority: int = 0,
        task_id: str | None = None,
    ) -> Any:
        """``put`` for ``async def`` code: the send runs in a thread, never on the event loop."""
        call = functools.partial(self.put, item, block, timeout, priority=priority, task_id=task_id)
        return await asyncio.get_running_loop().run_in_executor(None, call)

    def put_many(self, items: Iterable[Any], *, priority: int = 0) -> list[Any]:
        """Send a batch: Celery items in one MULTI/EXEC pipeline, all or nothing.

        Every Celery-bound payload is checked before anything is sent, so a payload error
        in any item enqueues none of them. Legacy-bound items are put after the batch landed.
        """
        self._ensure_started()
        if self._adopted is not None:
            return [self.put(item) for item in items]
        decided: list[Routed] = []
        items = list(items)
        for item, task_id in zip(items, new_ids(len(items)), strict=True):
            name, backend = self.backend_for(item, task_id)
            decided.append(Routed(backend, name, item, task_id))
        celery = [
            Item(r.name, r.item, r.task_id, priority) for r in decided if r.backend == "celery"
        ]
        sent = iter(self.sender.send(celery)) if celery else iter(())
        handles: list[Any] = []
        for r in decided:
            if r.backend == "celery":
                handles.append(next(sent))
            else:
                self.ledger.count(r.name, "legacy")
                handles.append(self.task_queue.put(r.item, priority=priority, task_id=r.task_id))
        return handles

    # -- queue.Queue-style inspection -----------------------------------------------
    def qsize(self) -> int:
        """Items waiting in process plus messages waiting in this app's Celery queues.

        On an adopted queue: the app's own queue only, as its consumers see it (a loop that
        checks ``empty()`` before ``get_nowait()`` must not count Celery's share).
        """
        if self._adopted is not None:
            return self.task_queue.qsize()
        return self.task_queue.qsize() + self.celery_qsize()

    def celery_qsize(self) -> int:
        if self.client is None:
            return 0
        keys = sorted({k for task in self.tasks.values() for k in self.sender.queue_keys(task)})
        try:
            with self.client.pipeline(transaction=False) as pipe:
                for key in keys:
                    pipe.llen(key)
                return sum(int(n) for n in pipe.execute())
        except redis.RedisError as exc:
            raise self.sender.unavailable(exc) from exc

    def empty(self) -> bool:
        return self.qsize() == 0

    def full(self) -> bool:
        # Celery's Redis lists are unbounded; only the legacy queue can be full.
        return self.task_queue.full()

    def join(self, timeout: float | None = None) -> Any:
        """Until every item put so far finished: the legacy ones and the Celery ones.

        Celery ones include tasks kept in the spool (or held while their publish outcome is
        unknown): join waits until they were replayed and ran. While Redis is down it keeps
        waiting (the spool is replayed when it is back); ``timeout`` bounds the wait. On an
        adopted asyncio.Queue this returns an awaitable, like the queue's own join.
        """
        if self._adopted is not None and self._adopted.adopted.is_async:
            return self._ajoin(timeout)
        self.task_queue.join()
        self._join_celery(timeout)
        return None

    def _join_celery(self, timeout: float | None) -> None:
        deadline = None if timeout is None else time.monotonic() + timeout
        watched = self.ledger.outstanding()
        pending = watched
        delay = 0.02
        while pending:
            pending = {t for t in pending if not self._finished(t)}
            if not pending or (deadline is not None and time.monotonic() >= deadline):
                break
            time.sleep(delay if deadline is None else min(delay, deadline - time.monotonic()))
            delay = min(delay * 1.5, 0.5)
        # Only ids seen finished leave; ids put by other threads meanwhile stay watched.
        self.ledger.finished(watched - pending)

    def _finished(self, task_id: str) -> bool:
        try:
            return self.sender.status(task_id)["status"] in FINISHED
        except redis.RedisError:
            return False  # Redis is down: not finished as far as anyone can tell

    def status(self, task_id: str) -> dict[str, Any]:
        """Status by id: the legacy queue's if it knows the id, else Celery's."""
        legacy = self.task_queue.status(task_id)
        if legacy["status"] != "PENDING":
            return legacy
        return self.sender.status(task_id)

    # -- lifecycle --------------------------------------------------------------------
    def start(self) -> None:
        self.task_queue.start()
        self._ensure_started()

    def stop(self, timeout: float | None = 10.0) -> None:
        self.close()
        self.task_queue.stop(timeout)

    def close(self) -> None:
        """Stop the background thread and flush the counters (the legacy queue keeps running)."""
        self._background.stop()
        self._flush_counts()
        self.sender.outage.warn_if_held()
        atexit.unregister(self.close)

    def __enter__(self) -> CompatQueue:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- the background thread ---------------------------------------------------------
    def _ensure_started(self) -> None:
        pid = os.getpid()
        if self._started_pid == pid and self._background.running:
            return
        with self._lock:
            if self._started_pid == pid and self._background.running:
                return
            self._started_pid = pid
        # The first put reads the override synchronously, so it already follows it.
        self._refresh()
        self._background.start()
        atexit.register(self.close)

    def _probe(self) -> None:
        if not self.breaker.is_open or self.client is None:
            return
        try:
            self.client.ping()
        except redis.RedisError:
            return
        self.breaker.reset()
        log.warning("broker %s answers again; sending to Celery resumes", self.redacted_broker_url)
        self._background.wake("replay")
        self._background.wake("refresh")

    def _refresh(self) -> None:
        if self.store is None or self.breaker.is_open:
            return
        try:
            if self.sender.publisher is not None:
                self.sender.publisher.sync_clock()
            self._overrides = self.store.read_overrides()
            if not self._reported:
                self.store.report_configured(
                    {name: f"{self.rollout.configured_for(name):g}" for name in self.tasks}
                )
                self._reported = True
        except redis.RedisError as exc:
            if self.breaker.trip(exc):
                log.warning("broker %s does not answer: %r", self.redacted_broker_url, exc)
            return
        self._flush_counts()

    def _flush_counts(self) -> None:
        if self.store is None:
            return
        counts = self.ledger.take_counts()
        if not counts:
            return
        try:
            self.store.add_counts(counts)
        except redis.RedisError:
            # Keep them for the next flush: an outage must not lose the counts.
            self.ledger.give_back(counts)

    def _replay(self) -> None:
        if not self.ledger.replay_due or self.breaker.is_open:
            return
        try:
            result = self.sender.replay()
        except BrokerUnavailable as exc:
            self.breaker.trip(exc)
            return
        if result is not None and (result.sent or result.already_sent):
            log.warning(
                "replayed %d spooled task(s) (%d were sent already)",
                result.sent,
                result.already_sent,
            )


def _broker_client(url: str, timeout: float) -> redis.Redis | None:
    """One long-lived client with bounded waits and no silent retries (None if not Redis)."""
    if not fast_path_scheme(url):
        return None
    return redis.Redis.from_url(
        url,
        socket_timeout=timeout,
        socket_connect_timeout=timeout,
        # redis-py retries 3 times by default: a frozen Redis would cost 4 timeouts.
        retry=None,
        health_check_interval=0,
    )


def _register_in_worker(app: Celery, adopted: AdoptedQueue) -> Callable[..., None]:
    """Register again when a worker starts: handlers the app added after building the queue
    (a manager's register_handler calls in its __init__) become tasks before any message
    arrives, and before a prefork pool copies the registry into its children."""
    from celery import signals

    def register(sender: Any = None, **_: Any) -> None:
        if getattr(sender, "app", app) is app:
            register_handlers(app, adopted)

    signals.worker_init.connect(register, weak=True)
    return register
