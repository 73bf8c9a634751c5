"""Where one task is: exactly one state, with the evidence that puts it there.

Celery says PENDING for a task nobody picked up, one lost, one never sent and one whose
result expired (celery #4450). Here the result backend, the sent marker, the queue lists,
kombu's unacked set, a local spool and the live workers are read in turn, and the first that
knows the id decides:

====================  =================================================================
``done``              the backend holds a final state (SUCCESS, FAILURE, REVOKED...)
``running``           a worker runs it (inspect active, or STARTED by a live worker)
``retry_scheduled``   waiting for its retry (or eta) countdown on a worker
``reserved``          taken by a worker (kombu's unacked set) and not started
``queued``            in a queue list at position N (1 = the next one taken)
``unrouted``          queued in a queue that no worker consumes
``unregistered``      queued, but no worker knows its task name
``spooled``           kept in a local spool while the broker was down
``lost``              sent (marker set) but in no queue, not taken, no result
``result_expired``    sent longer ago than the result expiry, and its result is gone
``never_sent``        no marker, no message, no result: nobody sent this id
====================  =================================================================

Every read is bounded (``timeout`` per Redis call or broadcast) and lists are read in
chunks up to a cap, so a huge backlog costs bounded time (and says so).
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import redis
from celery import Celery, states

from .app import DEFAULT_LEASE_TIMEOUT
from .leases import Held, where_is
from .status import (
    backend_key_prefix,
    broker_key_prefix,
    raw_meta,
    sent_client,
    sent_key,
    sent_ttl,
)
from .workers_view import WorkersSnapshot, snapshot

__all__ = ["STATES", "Location", "find_unacked", "locate_task"]

STATES = (
    "done",
    "running",
    "retry_scheduled",
    "reserved",
    "queued",
    "unrouted",
    "unregistered",
    "spooled",
    "lost",
    "result_expired",
    "never_sent",
)
_FINAL = states.READY_STATES | {states.IGNORED}
# kombu.transport.redis defaults.
_SEP = "\x06\x16"
_STEPS = (0, 3, 6, 9)
_CHUNK = 1000
_MAX_SCANNED = 200_000


@dataclass(frozen=True)
class Location:
    """One task id in exactly one state; ``detail`` is the one line a person reads."""

    task_id: str
    state: str
    detail: str
    evidence: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "task_id": self.task_id,
            "state": self.state,
            "detail": self.detail,
            "evidence": self.evidence,
        }


def _broker_client(app: Celery, timeout: float) -> redis.Redis | None:
    url = app.conf.broker_read_url or app.conf.broker_url
    url = str(url).split(";")[0] if url else ""
    if not url.startswith(("redis://", "rediss://", "unix://")):
        return None
    return redis.Redis.from_url(
        url, socket_timeout=timeout, socket_connect_timeout=timeout, retry=None
    )


def _queues(app: Celery, workers: WorkersSnapshot | None) -> list[str]:
    names = {str(app.conf.task_default_queue)} | set(app.amqp.queues)
    for name in app.tasks:
        if name.startswith("celery."):
            continue
        try:
            queue = app.amqp.router.route({}, name, (), {}, app.tasks[name]).get("queue")
        except Exception:
            continue
        if queue is not None:
            names.add(getattr(queue, "name", str(queue)))
    if workers is not None:
        names |= {q for qs in workers.queues.values() for q in qs}
    return sorted(names)


def _headers(raw: bytes | str) -> dict[str, Any]:
    try:
        message = json.loads(raw)
    except ValueError:
        return {}
    headers = message.get("headers") if isinstance(message, dict) else None
    return headers if isinstance(headers, dict) else {}


def _find_in_list(
    client: redis.Redis, key: str, needle: bytes, limit: int, unread: list[int]
) -> tuple[int, int] | None:
    """``(position from the consuming end, length)``; consumers pop from the right.

    Reads at most ``limit`` messages; what it left unread is added to ``unread``.
    """
    length = int(client.llen(key))
    scanned = 0
    while scanned < min(length, limit):
        end = -1 - scanned
        size = min(_CHUNK, limit - scanned)
        chunk = client.lrange(key, end - size + 1, end)
        for offset, raw in enumerate(reversed(chunk)):
            if needle in raw:
                return scanned + offset + 1, length
        if not chunk:
            break
        scanned += len(chunk)
    if length > scanned:
        unread.append(length - scanned)
    return None


def _in_queues(
    client: redis.Redis,
    app: Celery,
    queues: Sequence[str],
    task_id: str,
    limit: int,
    unread: list[int],
) -> dict[str, Any] | None:
    options = app.conf.broker_transport_options or {}
    prefix = broker_key_prefix(app)
    sep = options.get("sep", _SEP)
    steps = sorted(options.get("priority_steps", _STEPS))
    needle = f'"id": "{task_id}"'.encode()
    for queue in queues:
        for step in steps:
            key = prefix + (queue if not step else f"{queue}{sep}{step}")
            found = _find_in_list(client, key, needle, limit, unread)
            if found is not None:
                position, length = found
                return {"queue": queue, "key": key, "position": position, "length": length}
    return None


def find_unacked(client: redis.Redis, app: Celery, task_id: str) -> dict[str, Any] | None:
    """The task's entry in kombu's standard ``unacked`` hash, with its time from
    ``unacked_index`` (Unix seconds); None if it is not there.

    The one place that knows how a worker holds a message: a transport that keeps taken
    messages elsewhere (a per-worker processing list) extends this function.
    """
    options = app.conf.broker_transport_options or {}
    prefix = broker_key_prefix(app)
    hash_key = prefix + str(options.get("unacked_key", "unacked"))
    index_key = prefix + str(options.get("unacked_index_key", "unacked_index"))
    lease = _lease_holder(client, app, task_id, prefix)
    if lease is not None and lease.state == "fetched":
        # In a worker's fetch list: claimed (and leased) a moment later.
        return {"delivery_tag": None, "since": None, "headers": {}, **_lease_fields(lease)}
    needle = f'"id": "{task_id}"'.encode()
    seen = 0
    for tag, raw in client.hscan_iter(hash_key, count=500):
        seen += 1
        if needle in raw:
            try:
                payload = json.loads(raw)[0]
            except (ValueError, IndexError, KeyError):
                payload = {}
            since = client.zscore(index_key, tag)
            found = {
                "delivery_tag": tag.decode() if isinstance(tag, bytes) else str(tag),
                "since": since,
                "headers": payload.get("headers") or {},
            }
            if lease is not None and lease.worker is not None:
                found.update(_lease_fields(lease))
            return found
        if seen >= _MAX_SCANNED:
            break
    return None


def _lease_holder(client: redis.Redis, app: Celery, task_id: str, prefix: str) -> Held | None:
    """The worker that holds the task under queue2celery's transport (its lease), if any."""
    options = app.conf.broker_transport_options or {}
    try:
        return where_is(
            client,
            task_id,
            unacked_key=str(options.get("unacked_key", "unacked")),
            unacked_index_key=str(options.get("unacked_index_key", "unacked_index")),
            prefix=prefix,
            lease_timeout=float(options.get("lease_timeout", DEFAULT_LEASE_TIMEOUT)),
        )
    except (redis.RedisError, ValueError, TypeError):
        return None  # a diagnosis goes on without the lease view


def _lease_fields(held: Held) -> dict[str, Any]:
    return {
        "lease_worker": held.worker,
        "lease_state": held.state,
        "lease_renewed": held.lease_renewed,
        "lease_worker_alive": held.worker_alive,
        "seconds_since_beat": held.seconds_since_beat,
    }


def _spool_entry(paths: Sequence[Path], task_id: str) -> dict[str, Any] | None:
    # The outbox table written by compat.spool (read here without importing compat).
    for path in paths:
        if not Path(path).is_file():
            continue
        try:
            # Read-only, and never created: a URI (as_uri also quotes Windows drive paths).
            uri = Path(path).resolve().as_uri() + "?mode=ro"
            conn = sqlite3.connect(uri, uri=True, timeout=2)
            try:
                row = conn.execute(
                    "SELECT task_name, created_at FROM outbox WHERE task_id = ?", (task_id,)
                ).fetchone()
            finally:
                conn.close()
        except sqlite3.Error:
            continue
        if row is not None:
            return {"spool": str(path), "task": row[0], "since": row[1]}
    return None


def _when(seconds: Any) -> str:
    if not isinstance(seconds, (int, float)):
        return "?"
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(float(seconds)))


def _marker(app: Celery, client: redis.Redis | None, task_id: str) -> float | None:
    """The send time (Unix seconds; 0 when unknown) if a sent marker exists, else None."""
    readers: list[tuple[Any, str]] = []
    try:
        readers.append((sent_client(app), backend_key_prefix(app)))
    except Exception:
        pass
    if client is not None:
        readers.append((client, broker_key_prefix(app)))
    for reader, prefix in readers:
        value = reader.get(sent_key(task_id, prefix))
        if value is not None:
            try:
                return float(value)
            except ValueError:
                return 0.0
    return None


def _final(meta: dict[str, Any], task_id: str) -> Location:
    status = str(meta.get("status"))
    where = f" on {meta['worker']}" if meta.get("worker") else ""
    done = meta.get("date_done")
    return Location(
        task_id,
        "done",
        f"done: {status}{where}" + (f" at {done}" if done else ""),
        {"status": status, "date_done": done, "worker": meta.get("worker")},
    )


def locate_task(
    app: Celery,
    task_id: str,
    *,
    timeout: float = 2.0,
    spool_paths: Sequence[Path] = (),
    workers: WorkersSnapshot | None = None,
    ask_workers: bool = True,
    scan_limit: int = _MAX_SCANNED,
) -> Location:
    """Put ``task_id`` in exactly one of :data:`STATES`. Redis errors propagate (bounded).

    Each queue list is read from its consuming end, at most ``scan_limit`` messages.
    """
    meta = raw_meta(app, task_id)
    status = str(meta.get("status") or states.PENDING)
    if status in _FINAL:
        return _final(meta, task_id)
    if workers is None and ask_workers:
        workers = snapshot(app, timeout)
    client = _broker_client(app, timeout)
    try:
        return _locate_live(app, task_id, meta, status, client, workers, spool_paths, scan_limit)
    finally:
        if client is not None:
            client.close()


def _locate_live(
    app: Celery,
    task_id: str,
    meta: dict[str, Any],
    status: str,
    client: redis.Redis | None,
    workers: WorkersSnapshot | None,
    spool_paths: Sequence[Path],
    scan_limit: int,
) -> Location:
    held = workers.holding(task_id) if workers is not None else None
    if held is not None:
        kind, node, info = held
        return _held(task_id, kind, node, info, status)
    result = meta.get("result")
    host = result.get("hostname") if isinstance(result, dict) else None
    unacked = find_unacked(client, app, task_id) if client is not None else None
    if status == states.STARTED:
        return _started(task_id, host, workers, unacked)
    if unacked is not None:
        return _unacked(task_id, unacked, status, meta, workers)
    unread: list[int] = []
    queues = _queues(app, workers)
    queued = _in_queues(client, app, queues, task_id, scan_limit, unread) if client else None
    if queued is not None:
        return _queued(app, task_id, queued, client, workers)
    spooled = _spool_entry(spool_paths, task_id)
    if spooled is not None:
        return Location(
            task_id,
            "spooled",
            f"spooled in {spooled['spool']} since {_when(spooled['since'])} (task "
            f"{spooled['task']}): sent once the broker answers (queue2celery spool replay)",
            spooled,
        )
    if unread:
        # Not among the messages read: it may wait further back; never call it lost.
        return Location(
            task_id,
            "queued",
            f"not among the first {scan_limit} messages read from each of {', '.join(queues)}; "
            f"{sum(unread)} more wait further back, where it may be (raise the scan limit)",
            {"position": None, "unread": sum(unread), "queues": queues},
        )
    return _nowhere(app, task_id, client, status)


def _started(
    task_id: str,
    host: str | None,
    workers: WorkersSnapshot | None,
    unacked: dict[str, Any] | None,
) -> Location:
    """STARTED is written by the worker itself: it runs there, or ran there and died."""
    who = host or "a worker"
    evidence: dict[str, Any] = {"worker": host, "status": "STARTED"}
    if workers is None or host in workers.nodes:
        return Location(task_id, "running", f"running on {who} (STARTED)", evidence)
    # A solo worker busy with a task cannot answer a broadcast; a dead one cannot either.
    if unacked is not None and unacked.get("lease_worker"):
        # queue2celery's transport: the lease tells the two apart.
        evidence.update(unacked)
        holder = str(unacked["lease_worker"])
        if unacked.get("lease_worker_alive"):
            return Location(
                task_id,
                "running",
                f"running on {who} (STARTED); worker {holder} renewed its lease "
                f"{unacked.get('seconds_since_beat')} s ago",
                evidence,
            )
        return Location(
            task_id,
            "reserved",
            f"was running on {who} (STARTED), but worker {holder} stopped renewing its lease: "
            "it died, and the message goes back to its queue once the lease timeout passes",
            evidence,
        )
    if unacked is not None:
        since = _when(unacked.get("since"))
        note = (
            f"{who} did not answer (a solo pool cannot while it runs a task); its message is "
            f"unacked since {since}, so if {who} died it returns to its queue after the "
            "visibility timeout"
        )
        evidence.update(unacked)
    else:
        note = (
            f"{who} did not answer (a solo pool cannot while it runs a task); its message was "
            "acked already, so if it died nothing brings the task back"
        )
    return Location(task_id, "running", f"running on {who} (STARTED); {note}", evidence)


def _held(task_id: str, kind: str, node: str, info: dict[str, Any], status: str) -> Location:
    name = info.get("name") or info.get("type")
    if kind == "active":
        since = _when(info.get("time_start"))
        return Location(
            task_id,
            "running",
            f"running on {node} since {since} (task {name})",
            {"worker": node, "since": info.get("time_start"), "task": name},
        )
    if kind == "scheduled":
        eta = info.get("eta")
        retries = (info.get("request") or {}).get("retries") or 0
        what = "retry" if status == states.RETRY or retries else "eta"
        return Location(
            task_id,
            "retry_scheduled",
            f"{what} scheduled at {eta} on {node} (task {name}, retries so far: {retries})",
            {"worker": node, "eta": eta, "retries": retries, "task": name},
        )
    return Location(
        task_id,
        "reserved",
        f"reserved by {node} (prefetched, not started; task {name})",
        {"worker": node, "task": name},
    )


def _unacked(
    task_id: str,
    unacked: dict[str, Any],
    status: str,
    meta: dict[str, Any],
    workers: WorkersSnapshot | None,
) -> Location:
    headers = unacked["headers"]
    since = _when(unacked.get("since"))
    name = headers.get("task")
    if headers.get("eta") and (status == states.RETRY or headers.get("retries")):
        return Location(
            task_id,
            "retry_scheduled",
            f"retry scheduled at {headers['eta']} (unacked since {since}, retries so far: "
            f"{headers.get('retries')}; no live worker listed it)",
            {"eta": headers["eta"], "retries": headers.get("retries"), **unacked},
        )
    host = None
    if isinstance(meta.get("result"), dict):
        host = meta["result"].get("hostname")
    alive = None if workers is None else host in workers.nodes
    who = host or "a worker"
    note = (
        ""
        if alive is not False
        else f"; {who} does not answer: the message returns to its queue after the "
        "visibility timeout and the restore sweep"
    )
    if unacked.get("lease_worker"):
        # queue2celery's transport: the lease says who holds it and whether it still beats.
        who = str(unacked["lease_worker"])
        alive = unacked.get("lease_worker_alive")
        since = _when(unacked.get("since")) if unacked.get("since") else "a moment ago"
        note = (
            f"; its lease was renewed {unacked.get('seconds_since_beat')} s ago"
            if alive
            else "; that worker stopped renewing its lease: the message is restored to its "
            "queue once the lease timeout passes"
        )
    return Location(
        task_id,
        "reserved",
        f"unacked by {who} since {since} (task {name}, state {status}){note}",
        {"worker": host, "worker_alive": alive, "task": name, **unacked},
    )


def _queued(
    app: Celery,
    task_id: str,
    queued: dict[str, Any],
    client: redis.Redis | None,
    workers: WorkersSnapshot | None,
) -> Location:
    headers: dict[str, Any] = {}
    if client is not None:
        raw = client.lrange(queued["key"], -queued["position"], -queued["position"])
        headers = _headers(raw[0]) if raw else {}
    name = headers.get("task")
    queue = queued["queue"]
    at = f"queued in {queue!r} at position {queued['position']} of {queued['length']}"
    evidence = {"task": name, **queued}
    if workers is not None and not workers.nodes:
        # Nobody answered: no worker, or only busy solo pools (which cannot answer).
        evidence["workers_answered"] = 0
        at += "; no worker answered the broadcast (none runs, or all are busy solo pools)"
    elif workers is not None:
        consumers = workers.consumers(queue)
        if not consumers:
            return Location(
                task_id,
                "unrouted",
                f"{at}, but no worker consumes {queue!r} (workers: "
                f"{', '.join(workers.nodes) or 'none answered'}); start one with -Q {queue}",
                {**evidence, "workers": workers.nodes},
            )
        if name and not workers.knows(name):
            return Location(
                task_id,
                "unregistered",
                f"{at}, but task {name!r} is registered on no worker; start the workers "
                "with the app that defines it",
                {**evidence, "consumers": consumers},
            )
        evidence["consumers"] = consumers
    return Location(task_id, "queued", f"{at} (1 = the next one taken; task {name})", evidence)


def _nowhere(app: Celery, task_id: str, client: redis.Redis | None, status: str) -> Location:
    sent_at = _marker(app, client, task_id)
    if sent_at is None:
        return Location(
            task_id,
            "never_sent",
            "never sent: no sent marker, no message in any queue, no result (or it was "
            f"sent more than {2 * sent_ttl(app)}s ago)",
            {"status": status},
        )
    age = time.time() - sent_at if sent_at else None
    expires = sent_ttl(app)
    evidence = {"sent_at": sent_at or None, "age_seconds": age, "result_expires": expires}
    if age is not None and age > expires:
        return Location(
            task_id,
            "result_expired",
            f"result expired: sent at {_when(sent_at)}, more than result_expires={expires}s "
            "ago, and no result, message or worker holds it now",
            evidence,
        )
    when = f"at {_when(sent_at)}" if sent_at else "(time unknown)"
    return Location(
        task_id,
        "lost",
        f"lost: sent {when} but in no queue, taken by no worker and without a result (a "
        "worker killed between taking it and recording it); send it again with the same id",
        evidence,
    )
