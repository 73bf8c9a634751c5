"""Leases: a consuming worker renews what it holds; what a silent worker held comes back.

Every message a worker takes is recorded in kombu's unacked hash and, with a score, in a
lease index. A thread in the consuming process (the worker's main process, also while a
solo-pool task blocks the event loop) beats every ``interval`` seconds: it renews the
lease of each message the worker holds (running, reserved or waiting for its ETA) and the
worker's own entry. It also sweeps: a worker silent for more than ``timeout`` seconds has
its fetch lists put back, and every lease older than ``timeout`` is restored to its queue
with kombu's own ``restore_by_tag`` (a WATCH transaction, so two sweepers never restore
one message twice). A live worker's task is therefore never delivered again, however long
it runs and whatever the visibility timeout; a killed worker's tasks run again within
``timeout + interval`` seconds.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import redis

from ._scripts import HEARTBEAT, REAP

__all__ = ["LeaseKeys", "LeaseKeeper", "lease_keys"]

logger = logging.getLogger("queue2celery.lease")

# Tags restored per sweep pass, and passes per beat: bounded work in each beat.
_RESTORE_BATCH = 100
_RESTORE_PASSES = 10


@dataclass(frozen=True)
class LeaseKeys:
    """The Redis keys of one unacked set's leases, without ``global_keyprefix``."""

    unacked: str
    unacked_index: str
    lease_index: str
    owners: str
    workers: str
    fetch_prefix: str
    dead_letter: str

    def fetch_hash(self, worker_id: str) -> str:
        return f"{self.fetch_prefix}{worker_id}"

    def fetch_list(self, worker_id: str, queue: str) -> str:
        return f"{self.fetch_prefix}{worker_id}|{queue}"


def lease_keys(unacked_key: str = "unacked", unacked_index_key: str = "unacked_index") -> LeaseKeys:
    """The keys, derived from kombu's ``unacked_key``: what isolates one isolates the other."""
    return LeaseKeys(
        unacked=unacked_key,
        unacked_index=unacked_index_key,
        lease_index=f"{unacked_key}.q2c.lease",
        owners=f"{unacked_key}.q2c.owner",
        workers=f"{unacked_key}.q2c.workers",
        fetch_prefix=f"{unacked_key}.q2c.fetch.",
        dead_letter=f"{unacked_key}.q2c.undecodable",
    )


class LeaseKeeper:
    """The heartbeat-and-sweep thread of one consuming channel."""

    def __init__(
        self,
        *,
        worker_id: str,
        keys: LeaseKeys,
        prefix: str,
        timeout: float,
        interval: float,
        new_client: Callable[[], Any],
        restore_by_tag: Callable[[str, Any], None],
        alive: Callable[[], bool] = lambda: True,
    ) -> None:
        self.worker_id = worker_id
        self.keys = keys
        self.prefix = prefix
        self.timeout = float(timeout)
        self.interval = float(interval)
        self._new_client = new_client
        self._restore_by_tag = restore_by_tag
        self._alive = alive
        # Server time of the last successful beat, and the first time a sweep may run.
        self._last_beat: float | None = None
        self._sweep_from = 0.0
        self._held: set[str] = set()
        self._fetch: dict[str, str] = {}  # full fetch list key -> full source list key
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._pid = os.getpid()
        self.beats = 0

    # -- what the channel tells us ------------------------------------------------
    def hold(self, tag: str) -> None:
        with self._lock:
            self._held.add(tag)

    def release(self, tag: str) -> None:
        with self._lock:
            self._held.discard(tag)

    def add_fetch_list(self, fetch_key: str, source_key: str) -> None:
        with self._lock:
            self._fetch[fetch_key] = source_key

    # -- the thread -------------------------------------------------------------------
    def start(self, client: Any) -> None:
        """Register the worker (one heartbeat, synchronously) and start beating."""
        self.beat(client)
        self._thread = threading.Thread(
            target=self._run, name=f"q2c-lease-{self.worker_id}", daemon=True
        )
        self._thread.start()

    def stop(self, client: Any | None = None) -> None:
        """Stop beating; with ``client``, put our fetch lists back and leave at once."""
        self._stop.set()
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout=self.interval + 5)
        # A forked pool child inherits this object but never owned the lease.
        if client is not None and os.getpid() == self._pid:
            self._reap(client, only=self.worker_id)

    def _run(self) -> None:
        client = None
        while not self._stop.wait(self.interval):
            if not self._alive():
                # The channel is gone without close() reaching us: renewing its leases
                # would keep its messages from ever coming back.
                return
            try:
                if client is None:
                    client = self._new_client()
                now = self.beat(client)
                if now >= self._sweep_from:
                    self.sweep(client)
            except Exception as exc:
                logger.warning("lease heartbeat failed (%s: %s); retrying", type(exc).__name__, exc)
                client = None

    def beat(self, client: Any) -> float:
        """Renew the worker's entry and every lease it holds; returns the server time."""
        with self._lock:
            held = list(self._held)
            fetch = list(self._fetch.items())
        p = self.prefix
        keys = [
            p + self.keys.workers,
            p + self.keys.unacked_index,
            p + self.keys.lease_index,
            p + self.keys.fetch_hash(self.worker_id),
        ]
        args: list[Any] = [self.worker_id, len(fetch)]
        for fetch_key, source_key in fetch:
            args.extend([fetch_key, source_key])
        args.extend(held)
        now = float(_plain(client).eval(HEARTBEAT, len(keys), *keys, *args))
        last, self._last_beat = self._last_beat, now
        if last is None or now - last > self.timeout / 2:
            # First beat, or a gap (this process or Redis was stopped, or Redis was out
            # of reach): the other live workers have not renewed yet either. Sweep only
            # once they have had a whole lease timeout to do it.
            self._sweep_from = now + (self.timeout if last is not None else 0.0)
        self.beats += 1
        return now

    def sweep(self, client: Any) -> int:
        """Put back dead workers' fetch lists and restore expired leases; returns how many."""
        cutoff, moved = self._reap(client)
        plain = _plain(client)
        restored = 0
        lease_index = self.prefix + self.keys.lease_index
        for _ in range(_RESTORE_PASSES):
            tags = plain.zrangebyscore(
                lease_index, "-inf", cutoff, start=0, num=_RESTORE_BATCH
            )
            if not tags:
                break
            for raw in tags:
                tag = raw.decode() if isinstance(raw, bytes) else str(raw)
                self._restore_by_tag(tag, client)
                # restore_by_tag removes the lease with the unacked entry; this covers a
                # lease whose unacked entry was already gone.
                plain.zrem(lease_index, tag)
                plain.hdel(self.prefix + self.keys.owners, tag)
                restored += 1
            if len(tags) < _RESTORE_BATCH:
                break
        if moved or restored:
            logger.warning(
                "restored %d message(s) of silent workers (lease timeout %.0fs)",
                moved + restored,
                self.timeout,
            )
        return moved + restored

    def _reap(self, client: Any, only: str | None = None) -> tuple[float, int]:
        p = self.prefix
        args: list[Any] = [self.timeout, p + self.keys.fetch_prefix]
        if only is not None:
            args.append(only)
        cutoff, moved = _plain(client).eval(REAP, 1, p + self.keys.workers, *args)
        return float(cutoff), int(moved)


def _plain(client: Any) -> redis.Redis:
    """A client on the same pool that does not add kombu's ``global_keyprefix``.

    The channel's client may prefix some commands' keys and not others (kombu keeps a
    list); here every key is given in full instead.
    """
    if type(client) is redis.Redis:
        return client
    return redis.Redis(connection_pool=client.connection_pool)
