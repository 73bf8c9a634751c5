"""Checks for managed (cloud) Redis: cluster mode, and Lua scripting refused.

Celery's Redis transport reads several queue lists in one BRPOP and keeps its unacked
bookkeeping in several keys changed together; a Redis Cluster refuses such commands when the
keys live in different hash slots (CROSSSLOT). kombu, Celery's result backend and
queue2celery's outbox and fast publish path run Lua scripts, which managed services often
switch off (EVAL renamed away, or an ACL user without +@scripting).
"""

from __future__ import annotations

import redis

from ._check import Check

__all__ = ["check_cluster", "check_scripting"]

_NEEDS_CLIENT = "not checked: needs a reachable Redis broker"
_PROBE = "return 1"


def check_cluster(client: redis.Redis | None) -> Check:
    """WARN when the broker reports ``cluster_enabled:1`` in ``INFO cluster``."""
    if client is None:
        return Check("redis_cluster", "SKIP", _NEEDS_CLIENT)
    try:
        info = client.info("cluster")
    except redis.ResponseError as exc:
        return Check(
            "redis_cluster",
            "SKIP",
            f"the broker refuses INFO cluster ({_reply(exc)}); check the edition in the "
            "provider's console: a cluster edition needs the standard one instead",
        )
    if str(info.get("cluster_enabled", "0")).strip() == "1":
        return Check(
            "redis_cluster",
            "WARN",
            "the broker is a Redis Cluster (cluster_enabled:1): Celery's BRPOP over several "
            "queues, its unacked bookkeeping and Lua scripts touch keys in different hash slots, "
            "which a cluster answers with CROSSSLOT or MOVED errors",
            "use a standard (primary/replica, non-cluster) Redis for the broker; a cluster "
            "edition is fine for caches, not for Celery",
        )
    return Check("redis_cluster", "PASS", "the broker is not a Redis Cluster (cluster_enabled:0)")


def check_scripting(client: redis.Redis | None) -> Check:
    """WARN when EVAL, or the EVALSHA/SCRIPT LOAD path redis-py scripts take, is refused."""
    if client is None:
        return Check("redis_eval", "SKIP", _NEEDS_CLIENT)
    refused: list[str] = []
    try:
        client.eval(_PROBE, 0)
    except redis.ResponseError as exc:
        refused.append(f"EVAL ({_reply(exc)})")
    try:
        # The way redis-py runs kombu's, Celery's and our scripts: EVALSHA, then SCRIPT
        # LOAD and EVALSHA again when the server does not know the script yet.
        client.register_script(_PROBE)()
    except redis.ResponseError as exc:
        refused.append(f"EVALSHA/SCRIPT LOAD ({_reply(exc)})")
    if not refused:
        return Check("redis_eval", "PASS", "Lua scripts run (EVAL, EVALSHA)")
    if len(refused) == 1 and refused[0].startswith("EVAL "):
        effect = (
            "scripts loaded with SCRIPT LOAD still run (kombu, Celery and queue2celery use "
            "those), but any client that calls EVAL fails, and such providers often block "
            "EVALSHA next"
        )
    else:
        effect = (
            "kombu's unacked-message lock, Celery's chords and queue2celery's outbox replay "
            "and fast publish path fail"
        )
    return Check(
        "redis_eval",
        "WARN",
        f"the broker refuses Lua scripting: {'; '.join(refused)}: {effect}",
        "allow scripting for the broker's user (ACL +@scripting, no rename-command EVAL), or "
        "choose an edition of the managed Redis that supports Lua",
    )


def _reply(exc: redis.ResponseError) -> str:
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return text[:120]
