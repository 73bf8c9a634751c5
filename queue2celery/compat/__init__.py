"""The bridge: the legacy put API on Celery, behind a live rollout flag, with exact payload
errors and a bounded, policy-driven answer when the broker is down."""

from __future__ import annotations

from ._handle import CeleryHandle
from .carry import carry_types
from .compat_queue import CompatQueue, OnBrokerError
from .operations import (
    RolloutReport,
    rollout_clear,
    rollout_set,
    rollout_show,
    spool_replay,
)
from .payload import drift
from .rollout import BUCKETS, Rollout, bucket_for
from .rollout_store import RolloutRow, RolloutStore
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
    "carry_types",
    "drift",
    "rollout_clear",
    "rollout_set",
    "rollout_show",
    "spool_replay",
]
