"""kombu's Redis transport, with a fetch that never leaves a message only in memory.

Stock kombu takes a message with ``BRPOP`` (it leaves its list) and records it in the
unacked hash afterwards: a SIGKILL between the two loses it. Here a Lua script (``CLAIM``
in ``_scripts.py``) pops the message and records it as unacked, under a lease, in one
step. The list layout, the message format and the unacked hash stay kombu's own, so
publishers (``.delay()``, the compat fast path), stock workers' restores and
``celery inspect`` see nothing different.

A script cannot block, so an idle worker waits with ``BRPOPLPUSH`` from its queue's main
list into a fetch list of its own (one atomic move: the message is in Redis all along)
and claims from there at once; the fetch lists of a dead worker are put back by the
lease sweep (``_lease.py``). Messages on the other lists (priority steps, a second
queue) are found by the claim that follows each wait, so an idle worker sees them
within ``FETCH_WAIT`` (0.25 s; less if kombu's ``polling_interval`` option is lower).

Fanout (broadcast, pidbox) traffic is pub/sub and stays untouched. Transport options
added here: ``lease_timeout`` (seconds a worker may stay silent before what it holds is
restored; 30) and ``lease_interval`` (seconds between heartbeats; a sixth of the lease
timeout, at most 5 s). A consumer with ``no_ack`` (Celery's control replies) asked for
at-most-once: its messages are claimed the same way and forgotten as they are delivered.
"""

from __future__ import annotations

import os
import socket
import uuid
from queue import Empty
from typing import Any

from kombu.transport import redis as kombu_redis
from kombu.transport import virtual
from kombu.utils.encoding import bytes_to_str
from kombu.utils.json import loads

from ..errors import ConfigError
from ._lease import LeaseKeeper, lease_keys
from ._scripts import CLAIM
from .app import DEFAULT_LEASE_TIMEOUT

__all__ = ["Channel", "QoS", "Transport"]

logger = kombu_redis.logger

# Seconds an idle worker blocks on its queue's main list before it looks at the others
# (priority sub-lists, a second queue): their messages wait at most this long.
FETCH_WAIT = 0.25


class QoS(kombu_redis.QoS):
    """kombu's Redis QoS; a claimed message is already recorded, its lease is released."""

    channel: Channel

    def append(self, message: Any, delivery_tag: str) -> None:
        if self.channel._claimed.pop(delivery_tag, None) is not None:
            # The claim script wrote the unacked entry: only the in-memory state is left.
            virtual.QoS.append(self, message, delivery_tag)
        else:
            super().append(message, delivery_tag)
        keeper = self.channel._keeper
        if keeper is not None:
            keeper.hold(delivery_tag)

    def _remove_from_indices(self, delivery_tag: str, pipe: Any = None) -> Any:
        pipe = super()._remove_from_indices(delivery_tag, pipe)
        keeper = self.channel._keeper
        if keeper is not None:
            keeper.release(delivery_tag)
        lease = self.channel.lease
        return pipe.zrem(lease.lease_index, delivery_tag).hdel(lease.owners, delivery_tag)


class Channel(kombu_redis.Channel):
    """kombu's Redis channel with an atomic claim and leased unacked messages."""

    QoS = QoS

    lease_timeout = DEFAULT_LEASE_TIMEOUT
    lease_interval: float | None = None

    from_transport_options = kombu_redis.Channel.from_transport_options + (  # type: ignore[assignment]
        "lease_timeout",
        "lease_interval",
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self._keeper: LeaseKeeper | None = None
        self._claimed: dict[str, bool] = {}
        self._fetch_keys: dict[str, str] = {}  # fetch list (unprefixed) -> queue
        self._no_ack_queues: set[str] = set()
        self._waiting = False  # the next fetch command is a blocking wait, not a claim
        self._pending = "EVAL"
        self._float_waits = True
        super().__init__(*args, **kwargs)
        self.lease = lease_keys(self.unacked_key, self.unacked_index_key)
        self.worker_id = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"

    # -- consuming starts the lease ----------------------------------------------------
    def basic_consume(self, queue: str, no_ack: bool, *args: Any, **kwargs: Any) -> Any:
        if no_ack:
            self._no_ack_queues.add(queue)
        else:
            self._no_ack_queues.discard(queue)
        ret = super().basic_consume(queue, no_ack, *args, **kwargs)
        if not no_ack and queue not in self._fanout_queues and self._keeper is None:
            self._start_keeper()
        return ret

    def basic_get(self, queue: str, no_ack: bool = False, **kwargs: Any) -> Any:
        if not no_ack and self._keeper is None:
            self._start_keeper()  # a message held after basic_get is leased too
        message = super().basic_get(queue, no_ack=no_ack, **kwargs)
        if message is not None and no_ack and self._keeper is not None:
            self._forget(message.delivery_tag)
        return message

    def _forget(self, tag: str) -> None:
        """Drop the unacked record of a message whose consumer wants no ack."""
        self._claimed.pop(tag, None)
        self.qos._remove_from_indices(tag).execute()

    def _start_keeper(self) -> None:
        timeout, interval = lease_settings(self.lease_timeout, self.lease_interval)
        keeper = LeaseKeeper(
            worker_id=self.worker_id,
            keys=self.lease,
            prefix=self.global_keyprefix,
            timeout=timeout,
            interval=interval,
            new_client=self._create_client,
            alive=lambda: not self.closed and self.connection is not None,
            restore_by_tag=self._restore_tag,
        )
        with self.conn_or_acquire() as client:
            keeper.start(client)
            self._float_waits = _takes_float_timeouts(client)
        self._keeper = keeper

    def _restore_tag(self, tag: str, client: Any) -> None:
        self.qos.restore_by_tag(tag, client=client)

    def close(self) -> None:
        keeper, self._keeper = self._keeper, None
        if keeper is None:
            super().close()
            return
        client = None
        try:
            if not self.closed:
                # Made now: once closed, the channel has no connection to build one from.
                client = self._create_client()
            super().close()
        finally:
            # Whatever happened above, the heartbeat stops: a lease renewed by a channel
            # that is gone would keep its messages from ever being restored.
            try:
                keeper.stop(client)
            except Exception as exc:
                logger.warning("could not release the lease of %s: %r", self.worker_id, exc)
            if client is not None:
                client.close()

    # -- the fetch -----------------------------------------------------------------------
    def _fetch_list(self, queue: str) -> str:
        key = self.lease.fetch_list(self.worker_id, queue)
        if key not in self._fetch_keys:
            self._fetch_keys[key] = queue
            if self._keeper is not None:
                p = self.global_keyprefix
                self._keeper.add_fetch_list(p + key, p + self._q_for_pri(queue, 0))
                # Registered before the first wait: a kill right after it is recoverable.
                with self.conn_or_acquire() as client:
                    self._keeper.beat(client)
        return key

    def _claim_keys(self, queues: list[str]) -> list[str]:
        p = self.global_keyprefix
        keys = [
            p + self.unacked_key,
            p + self.unacked_index_key,
            p + self.lease.lease_index,
            p + self.lease.dead_letter,
            p + self.lease.owners,
        ]
        keys += [p + k for k, q in self._fetch_keys.items() if q in self.active_queues]
        keys += [p + self._q_for_pri(q, pri) for pri in self.priority_steps for q in queues]
        return keys

    def _brpop_start(self, timeout: float | None = None) -> None:
        if self._keeper is None:
            # Only no_ack consumers here (e.g. a client waiting for control replies):
            # at most once is what they asked for, kombu's own BRPOP gives it.
            self._pending = "BRPOP"
            return super()._brpop_start(timeout)
        queues = self._queue_cycle.consume(len(self.active_queues))
        if not queues:
            return
        if self._waiting:
            wait = min(timeout or self.brpop_timeout or 1, FETCH_WAIT)
            if not self._float_waits:
                wait = max(1, round(wait))
            queue = queues[0]
            p = self.global_keyprefix
            command = [
                "BRPOPLPUSH",
                p + self._q_for_pri(queue, 0),
                p + self._fetch_list(queue),
                wait,
            ]
        else:
            keys = self._claim_keys(queues)
            command = ["EVAL", CLAIM, len(keys), *keys, self.worker_id]
        self._pending = command[0]
        self._in_poll = self.client.connection
        self._brpop_sent_at = kombu_redis.monotonic()  # type: ignore[assignment]
        self.client.connection.send_command(*command)

    def _brpop_read(self, **options: Any) -> bool:
        if self._pending == "BRPOP":
            return bool(super()._brpop_read(**options))
        try:
            try:
                reply = self.client.parse_response(
                    self.client.connection, self._pending, **options
                )
            except self.connection_errors:
                self.client.connection.disconnect()
                raise
            if self._pending == "BRPOPLPUSH":
                # Whatever came (a message now sits in our fetch list, or nothing did),
                # the claim comes next: it takes from the fetch list first.
                self._waiting = False
                raise Empty()
            if not reply:
                self._waiting = True
                raise Empty()
            return self._deliver_claimed(reply)
        finally:
            self._in_poll = None  # type: ignore[assignment]
            self._flush_brpop_reauth()

    def _deliver_claimed(self, reply: Any) -> bool:
        key, item, recorded = reply
        key = bytes_to_str(key)[len(self.global_keyprefix) :]
        queue = self._fetch_keys.get(key) or key.rsplit(self.sep, 1)[0]
        if not int(recorded):
            self._dead_letter(item)
        payload = loads(bytes_to_str(item))
        tag = payload["properties"]["delivery_tag"]
        if queue in self._no_ack_queues:
            self._forget(tag)
        else:
            self._claimed[tag] = True
        self._queue_cycle.rotate(queue)
        self.connection._deliver(payload, queue)
        return True

    def _dead_letter(self, item: Any) -> None:
        logger.critical(
            "a message without a delivery tag cannot be tracked; it was moved to %r: %r",
            self.global_keyprefix + self.lease.dead_letter,
            bytes_to_str(item)[:1024],
        )
        raise Empty()

    def _get(self, queue: str, timeout: Any = None) -> Any:
        """``basic_get``: the same claim, without waiting."""
        if self._keeper is None:
            return super()._get(queue)
        p = self.global_keyprefix
        keys = self._claim_keys([])[:5]
        keys += [p + self._q_for_pri(queue, pri) for pri in self.priority_steps]
        with self.conn_or_acquire() as client:
            reply = client.eval(CLAIM, len(keys), *keys, self.worker_id)
            self._maybe_update_queues_expire(client, queue)
        if not reply:
            raise Empty()
        if not int(reply[2]):
            self._dead_letter(reply[1])
        payload = loads(bytes_to_str(reply[1]))
        self._claimed[payload["properties"]["delivery_tag"]] = True
        return payload


def lease_settings(timeout: Any, interval: Any = None) -> tuple[float, float]:
    """``(lease_timeout, lease_interval)`` in seconds, checked; ConfigError if unusable.

    A lease timeout at or below the heartbeat interval would restore the messages of
    live workers: every task would run again and again.
    """
    try:
        seconds = float(timeout)
        beat = float(interval) if interval else max(min(seconds / 6, 5.0), 0.1)
    except (TypeError, ValueError):
        seconds = beat = float("nan")
    if not (0 < beat and beat * 2 <= seconds < float("inf")):
        raise ConfigError(
            f"broker_transport_options lease_timeout={timeout!r}, lease_interval={interval!r} "
            "cannot work: the lease timeout must be a number of seconds at least twice the "
            "interval (defaults: 30 and a sixth of it); fix broker_transport_options"
        )
    return seconds, beat


def _takes_float_timeouts(client: Any) -> bool:
    """Redis before 6.0 takes whole seconds only as a blocking timeout."""
    try:
        version = str(client.info("server").get("redis_version", "7"))
        return int(version.split(".")[0]) >= 6
    except (ValueError, kombu_redis.redis.ResponseError):
        return True  # fakeredis has no INFO; it takes float timeouts


class Transport(kombu_redis.Transport):
    """kombu's Redis transport with :class:`Channel`; select it with ``broker_transport``."""

    Channel = Channel
