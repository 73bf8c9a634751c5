"""The bridge: the legacy put API on Celery, behind a live rollout flag, with exact payload
errors and a bounded, policy-driven answer when the broker is down."""

from __future__ import annotations

from ._handle import CeleryHandle
from .admin import (
    RolloutReport,
    rollout_clear,
    rollout_set,
    rollout_show,
    spool_replay,
)
from .live import RolloutRow, RolloutStore
from .payload import drift
from .queue import CompatQueue, OnBrokerError
from .rollout import BUCKETS, Rollout, bucket_for
from .spool import ReplayResult, Spool

__all__ = [
    "BUCKETS",
    "CeleryHandle",
    "CompatQueue",
    "OnBrokerError",
    "ReplayResult",
    "Rollout",
    "RolloutReport",
    "RolloutRow",
    "RolloutStore",
    "Spool",
    "bucket_for",
    "drift",
    "rollout_clear",
    "rollout_set",
    "rollout_show",
    "spool_replay",
]
