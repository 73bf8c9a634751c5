"""The broker-outage policy of one sender: raise, run in process, or keep for later.

A publish whose outcome is unknown (written, no answer) is never reported as "nothing
enqueued" and never repeated blindly: ``raise`` says the task may be queued; ``spool``
keeps it and the replay checks the sent marker; ``legacy`` holds it in memory (running it in
process could run it twice) until the broker answers and the marker tells whether it landed.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Any, NamedTuple

import redis
from celery import Celery
from kombu.exceptions import OperationalError

from ..errors import BrokerUnavailable
from ..legacy_queue import TaskQueue
from ..legacy_queue.adopt import AdoptedQueue
from ._background import CircuitBreaker
from ._handle import CeleryHandle
from ._ledger import Ledger, SendPolicy
from ._publisher import Prepared, Publisher, PublishExpired
from .spool import ReplayResult, Spool

__all__ = ["BROKER_ERRORS", "Item", "Outage", "maybe_written"]

log = logging.getLogger("queue2celery.compat")

BROKER_ERRORS = (redis.RedisError, OperationalError, ConnectionError, TimeoutError)


class Item(NamedTuple):
    """One item to send: the task it goes to, the payload, its task id and priority."""

    name: str
    item: Any
    task_id: str
    priority: int = 0


def maybe_written(exc: BaseException) -> bool:
    """False when the publish certainly did not reach Redis; True when it may have."""
    if isinstance(exc, PublishExpired):
        return False  # Redis ran it after the deadline: it did nothing
    text = str(exc).lower()
    # redis-py: "Error 111 connecting to ...", "Timeout connecting to server": nothing written.
    return "connecting to" not in text and "connection refused" not in text


class Outage:
    """Applies ``policy.on_broker_error`` to a batch the broker did not take."""

    def __init__(
        self,
        app: Celery,
        publisher: Publisher | None,
        client: redis.Redis | None,
        policy: SendPolicy,
        ledger: Ledger,
        breaker: CircuitBreaker,
        *,
        spool: Spool | None,
        fallback: TaskQueue | AdoptedQueue | None,
        marker_ttl: int,
    ) -> None:
        self.app = app
        self.publisher = publisher
        self.client = client
        self.policy = policy
        self.ledger = ledger
        self.breaker = breaker
        self.spool = spool
        self.fallback = fallback
        self.ttl = marker_ttl
        # Messages whose publish outcome is unknown under the 'legacy' policy.
        self._held: list[Prepared] = []
        self._held_lock = threading.Lock()

    def unavailable(
        self,
        exc: BaseException | None,
        *,
        waited: bool = True,
        task_ids: list[str] | None = None,
        maybe_sent: bool = False,
    ) -> BrokerUnavailable:
        policy = self.policy
        detail = policy.scrub(f"{type(exc).__name__}: {exc}") if exc else "no answer"
        how = (
            "did not answer"
            if waited
            else f"is known to be down (a probe checks every {policy.probe_interval:g} s)"
        )
        opened = self.breaker.opened_at
        since = ""
        if not waited and opened is not None:
            since = f" since {time.monotonic() - opened:.1f}s ago"
        ids = task_ids or []
        if maybe_sent:
            shown = ", ".join(ids[:5]) + (f" and {len(ids) - 5} more" if len(ids) > 5 else "")
            outcome = (
                f"the publish was written but its answer never came, so task(s) {shown} MAY "
                "be queued (a copy Redis runs late does nothing). Sending again with the same "
                "task_id is safe: a task id is queued at most once"
            )
        else:
            outcome = "nothing was enqueued"
        return BrokerUnavailable(
            f"the broker {policy.redacted_broker_url} {how}{since} ({detail}); {outcome}. "
            "Start Redis (or fix REDIS_URL / CELERY_BROKER_URL), or build the "
            "CompatQueue with on_broker_error='legacy' or 'spool' to keep working during outages",
            task_ids=ids,
            maybe_sent=maybe_sent,
        )

    def apply(
        self,
        batch: list[Item],
        prepared: list[Prepared] | None,
        exc: BaseException | None,
        *,
        waited: bool,
        maybe_sent: bool = False,
    ) -> list[Any]:
        if not batch:
            return []
        policy = self.policy
        ids = [it.task_id for it in batch]
        where = policy.redacted_broker_url
        if policy.on_broker_error == "legacy" and self.fallback is not None and not maybe_sent:
            if waited:
                log.warning(
                    "broker %s is down: running %d task(s) in process (on_broker_error='legacy')",
                    where,
                    len(batch),
                )
            handles = []
            for it in batch:
                self.ledger.count(it.name, "fallback")
                handles.append(self.fallback.put(it.item, priority=it.priority, task_id=it.task_id))
            return handles
        keep = policy.on_broker_error == "spool" and self.spool is not None
        hold = policy.on_broker_error == "legacy" and maybe_sent
        if prepared is None or not (keep or hold):
            raise self.unavailable(exc, waited=waited, task_ids=ids, maybe_sent=maybe_sent) from exc
        if keep:
            assert self.spool is not None
            self.spool.add(prepared)
            what = f"kept {len(batch)} task(s) in the spool {self.spool.path}"
        else:
            # Running it in process could run it twice (it may be queued): hold it until
            # the broker answers and the sent marker tells whether it landed.
            with self._held_lock:
                self._held.extend(prepared)
            what = f"holding {len(batch)} task(s) whose publish outcome is unknown"
        self.ledger.replay_due = True
        log.log(
            logging.WARNING if waited else logging.DEBUG,
            "broker %s is down: %s; they are sent when it is back (once per task id)",
            where,
            what,
        )
        for it in batch:
            self.ledger.count(it.name, "celery")
        self.ledger.track(ids)
        return [CeleryHandle(task_id, self.app, spooled=True) for task_id in ids]

    def replay(self) -> ReplayResult | None:
        """Send the held messages and the spool (each task id at most once); None if idle."""
        if not self.ledger.replay_due or self.publisher is None:
            return None
        with self._held_lock:
            held, self._held = self._held, []
        sent = already = 0
        if held:
            try:
                sent = self.publisher.publish(held)
            except BROKER_ERRORS as exc:
                with self._held_lock:
                    self._held[:0] = held
                ids = [p.task_id for p in held]
                raise self.unavailable(exc, task_ids=ids, maybe_sent=maybe_written(exc)) from exc
            already = len(held) - sent  # their marker existed: the first publish landed
        result = ReplayResult(sent, already, 0)
        if self.spool is not None:
            assert self.client is not None
            spooled = self.spool.replay(
                self.client, marker_ttl=self.ttl, redacted_url=self.policy.redacted_broker_url
            )
            result = ReplayResult(
                sent + spooled.sent, already + spooled.already_sent, spooled.remaining
            )
        with self._held_lock:
            self.ledger.replay_due = bool(self._held) or result.remaining > 0
        return result

    def warn_if_held(self) -> None:
        """Called on close: held messages live in memory only; say which ids they are."""
        with self._held_lock:
            ids = [p.task_id for p in self._held]
        if ids:
            log.warning(
                "closing with %d task(s) whose publish outcome is still unknown (the broker "
                "did not answer since): %s; check them with `queue2celery doctor --task ID` "
                "and send again with the same task_id if they were not queued",
                len(ids),
                ", ".join(ids[:20]),
            )
