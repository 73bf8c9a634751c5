"""The fast send: Celery's task message pushed through one long-lived Redis client.

``task.delay()`` spends most of its time building a Redis client per publish, declaring
the queue and subscribing to the result channel. Here the message is built once (see
``_message``), and pushed with its sent marker by one Lua script: one round trip, atomic.
A stock worker cannot tell it from a ``.delay()``; the tests compare the two byte for byte.

Only the plain case takes this path: a Redis broker, a direct route to a queue, and no
compression, expiry, sent events or publish signals. Anything else goes through
``apply_async`` (see :func:`fast_path_blocker`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import redis
from celery import Celery, Task, signals
from celery.app.task import extract_exec_options

from ..celery_tasks._push import GuardedPush, PublishExpired
from ..celery_tasks.status import sent_key
from ._message import MessageBuilder, Plan

__all__ = ["Prepared", "PublishExpired", "Publisher", "fast_path_blocker", "fast_path_scheme"]

# kombu.transport.redis defaults (Channel.sep, PRIORITY_STEPS).
_DEFAULT_SEP = "\x06\x16"
_DEFAULT_STEPS = (0, 3, 6, 9)
_REDIS_SCHEMES = frozenset({"redis", "rediss", "unix"})


@dataclass(frozen=True)
class Prepared:
    """One message ready to push: the full list key and the exact JSON kombu would LPUSH.

    ``prefix`` is the broker's global_keyprefix (already part of ``key``); the task's sent
    marker on the broker carries it too.
    """

    task_id: str
    task_name: str
    key: str
    message: str
    prefix: str = ""


def fast_path_scheme(url: object) -> bool:
    """True for a single ``redis://``, ``rediss://`` or ``unix://`` URL."""
    return isinstance(url, str) and ";" not in url and urlsplit(url).scheme in _REDIS_SCHEMES


def fast_path_blocker(app: Celery) -> str | None:
    """Why this app's messages must go through ``apply_async``, or None if they need not."""
    conf = app.conf
    if not fast_path_scheme(conf.broker_url):
        return "the broker is not a single Redis URL"
    if (conf.broker_transport_options or {}).get("global_keyprefix"):
        return "broker_transport_options has global_keyprefix"
    if conf.task_compression:
        return "task_compression is set"
    if conf.task_send_sent_event:
        return "task_send_sent_event is on"
    if conf.task_routes:
        return "task_routes is set (routes may depend on the arguments)"
    if signals.before_task_publish.receivers or signals.after_task_publish.receivers:
        return "a before/after_task_publish signal receiver is connected"
    return None


class Publisher:
    """Builds and pushes messages for the tasks of one Celery app."""

    def __init__(
        self,
        app: Celery,
        client: redis.Redis,
        *,
        marker_ttl: int,
        timeout: float,
        key_prefix: str = "",
    ) -> None:
        self.app = app
        self.client = client
        # kombu's global_keyprefix: queue keys and the sent markers of this broker carry it.
        self.key_prefix = key_prefix
        # The sent marker is always set on the broker with the message: it is what a spool
        # replay checks so that a message is never pushed twice.
        self._marker_ttl = marker_ttl
        self._push = GuardedPush(client, marker_ttl=marker_ttl, timeout=timeout)
        options = app.conf.broker_transport_options or {}
        self._sep = options.get("sep", _DEFAULT_SEP)
        self._steps = tuple(sorted(options.get("priority_steps", _DEFAULT_STEPS)))
        self._plans: dict[str, Plan] = {}
        self.builder = MessageBuilder(app)

    def task_blocker(self, task: Task) -> str | None:
        """Why ``task`` must go through ``apply_async``, or None."""
        opts = extract_exec_options(task)
        for name in ("exchange", "routing_key", "compression", "expires"):
            if opts.get(name):
                return f"task option {name}={opts[name]!r}"
        queue = self.app.amqp.router.route({}, task.name, (), {}, task).get("queue")
        if queue is None:
            return "the router gave no queue"
        if queue.exchange is not None and queue.exchange.type not in ("direct", None):
            return f"queue {queue.name!r} uses a {queue.exchange.type} exchange"
        if queue.expires or queue.message_ttl or queue.max_length:
            return f"queue {queue.name!r} has expires/message_ttl/max_length"
        if not self.builder.self_check(self.plan(task)):
            return "this Celery version builds task messages differently"
        return None

    def plan(self, task: Task) -> Plan:
        plan = self._plans.get(task.name)
        if plan is None:
            opts = extract_exec_options(task)
            queue = self.app.amqp.router.route({}, task.name, (), {}, task)["queue"]
            plan = Plan(
                task_name=task.name,
                queue=queue.name,
                serializer=opts.get("serializer") or self.app.conf.task_serializer,
                time_limit=opts.get("time_limit"),
                soft_time_limit=opts.get("soft_time_limit"),
                ignore_result=bool(task.ignore_result),
                sep=self._sep,
                steps=self._steps,
            )
            self._plans[task.name] = plan
        return plan

    def serializer_for(self, task: Task) -> str:
        return self.plan(task).serializer

    def queue_keys(self, task: Task) -> list[str]:
        """Every Redis list the task's messages can land in (one per priority step)."""
        queue = self.key_prefix + self.plan(task).queue
        return [queue if step == 0 else f"{queue}{self._sep}{step}" for step in self._steps]

    def prepare(self, task: Task, item: Any, task_id: str, priority: int, tag: str) -> Prepared:
        """Build the message; raises kombu's EncodeError when the payload cannot travel."""
        key, message = self.builder.build(self.plan(task), item, task_id, priority, tag)
        return Prepared(task_id, task.name, self.key_prefix + key, message, self.key_prefix)

    def sync_clock(self) -> None:
        """Measure the Redis server's clock against ours (for publish deadlines)."""
        self._push.sync_clock()

    def publish(self, prepared: Sequence[Prepared]) -> int:
        """Push the messages and their sent markers in one Lua script: all land or none.

        ``Prepared.key`` is the full Redis key (prefixed already). A task id whose sent
        marker exists is not pushed again: sending the same id twice queues it once.
        Returns how many messages were pushed.
        """
        return self._push.push(
            [(m.key, m.message, sent_key(m.task_id, m.prefix)) for m in prepared]
        )
