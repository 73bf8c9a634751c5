"""Read-only views of the leased transport's state, for ``doctor`` and the status API.

:func:`where_is` says whether a worker holds a task's message (claimed and unacked, or
fetched and about to be claimed), which worker, since when, and whether that worker is
still alive; :func:`lease_owners` lists the workers and when each last beat. Both take a
plain redis-py client and the same ``unacked_key`` / ``global_keyprefix`` as the app's
``broker_transport_options``, and never write.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from typing import Any

from ._lease import lease_keys
from .app import DEFAULT_LEASE_TIMEOUT

__all__ = ["Held", "WorkerLease", "lease_owners", "where_is"]


@dataclass(frozen=True)
class WorkerLease:
    """One consuming worker as the leases see it."""

    worker: str
    seconds_since_beat: float
    alive: bool

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Held:
    """Where a worker holds a task's message.

    ``state``: ``unacked`` (claimed; running, reserved or waiting for its ETA) or
    ``fetched`` (moved into the worker's fetch list, claimed a moment later).
    ``worker`` is None for a message taken by a stock kombu worker (no lease).
    """

    state: str
    delivery_tag: str | None
    worker: str | None
    since: float | None
    lease_renewed: float | None
    worker_alive: bool | None
    seconds_since_beat: float | None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _text(value: Any) -> str:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)


def _task_id(message: Any) -> str | None:
    if isinstance(message, dict):
        headers = message.get("headers")
        if isinstance(headers, dict) and isinstance(headers.get("id"), str):
            return str(headers["id"])
    return None


def _server_now(client: Any) -> float:
    seconds, micros = client.time()
    return float(seconds) + float(micros) / 1e6


def lease_owners(
    client: Any,
    *,
    unacked_key: str = "unacked",
    prefix: str = "",
    lease_timeout: float = DEFAULT_LEASE_TIMEOUT,
) -> list[WorkerLease]:
    """Every worker with a lease entry, most recently beating first."""
    keys = lease_keys(unacked_key)
    now = _server_now(client)
    rows = client.zrange(prefix + keys.workers, 0, -1, desc=True, withscores=True)
    return [
        WorkerLease(_text(w), round(now - score, 3), now - score <= lease_timeout)
        for w, score in rows
    ]


def where_is(
    client: Any,
    task_id: str,
    *,
    unacked_key: str = "unacked",
    unacked_index_key: str = "unacked_index",
    prefix: str = "",
    lease_timeout: float = DEFAULT_LEASE_TIMEOUT,
) -> Held | None:
    """Where a worker holds ``task_id``'s message, or None if no worker holds it.

    Reads the whole unacked hash (one entry per message in flight) and every live
    worker's fetch list: meant for a diagnosis, not a hot path.
    """
    keys = lease_keys(unacked_key, unacked_index_key)
    workers = {w.worker: w for w in lease_owners(
        client, unacked_key=unacked_key, prefix=prefix, lease_timeout=lease_timeout
    )}  # fmt: skip
    for tag, raw in client.hscan_iter(prefix + keys.unacked):
        try:
            entry = json.loads(raw)
        except ValueError:
            continue
        if not isinstance(entry, list) or not entry or _task_id(entry[0]) != task_id:
            continue
        tag_text = _text(tag)
        owner = client.hget(prefix + keys.owners, tag_text)
        renewed = client.zscore(prefix + keys.lease_index, tag_text)
        if owner is None:
            since = client.zscore(prefix + keys.unacked_index, tag_text)
            return Held("unacked", tag_text, None, since, None, None, None)
        worker, _, claimed = _text(owner).partition("|")
        lease = workers.get(worker)
        return Held(
            "unacked",
            tag_text,
            worker,
            float(claimed) if claimed else None,
            renewed,
            lease.alive if lease else False,
            lease.seconds_since_beat if lease else None,
        )
    for worker, lease in workers.items():
        for fetch_list in client.hkeys(prefix + keys.fetch_hash(worker)):
            for raw in client.lrange(fetch_list, 0, -1):
                try:
                    message = json.loads(raw)
                except ValueError:
                    continue
                if _task_id(message) == task_id:
                    return Held(
                        "fetched", None, worker, None, None, lease.alive, lease.seconds_since_beat
                    )
    return None
