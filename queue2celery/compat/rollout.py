"""The rollout flag: which share of each task's puts goes to Celery.

The decision is a pure function of (task name, key, percentage): a stable hash of the
task name and the key picks a bucket in ``0..9999`` and the put goes to Celery when the
bucket is below ``percentage * 100``. Raising the percentage therefore only adds buckets
(nobody flips back), and every process, on every platform and after every restart, puts
the same key on the same side.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Literal

from ..errors import ConfigError

__all__ = ["BUCKETS", "ENV_VAR", "Backend", "Rollout", "bucket_for", "parse_percentage"]

Backend = Literal["legacy", "celery"]

ENV_VAR = "Q2C_ROLLOUT"
# 10,000 buckets: a percentage with two decimals (12.34) is still exact.
BUCKETS = 10_000
# The task name key that stands for "every task" (in specs and in the live override).
ALL_TASKS = "*"
_DEFAULT_KEY = "default"


def bucket_for(task_name: str, key: object) -> int:
    """The stable bucket (``0..9999``) of ``key`` for ``task_name``.

    blake2b rather than ``hash()``: Python salts ``hash()`` per process (PYTHONHASHSEED),
    which would send the same user to a different backend after every restart.
    """
    data = f"{task_name}\x00{key}".encode("utf-8", "surrogatepass")
    digest = hashlib.blake2b(data, digest_size=8).digest()
    return int.from_bytes(digest, "big") % BUCKETS


def parse_percentage(text: str, *, what: str = ENV_VAR) -> float:
    """``legacy`` -> 0, ``celery`` -> 100, else a number in ``0..100``."""
    value = text.strip().lower()
    if value == "legacy":
        return 0.0
    if value == "celery":
        return 100.0
    try:
        pct = float(value.rstrip("%"))
    except ValueError:
        raise ConfigError(
            f"{what}: {text!r} is not a rollout value; use 'legacy', 'celery' or a "
            "percentage from 0 to 100"
        ) from None
    if not 0.0 <= pct <= 100.0:
        raise ConfigError(
            f"{what}: percentage {text!r} is outside 0..100; use a value from 0 to 100"
        )
    return pct


def _threshold(pct: float) -> int:
    return round(pct * (BUCKETS // 100))


@dataclass(frozen=True)
class Rollout:
    """The configured share of puts that go to Celery, per task, with a default."""

    default: float = 100.0
    per_task: Mapping[str, float] = field(default_factory=dict)
    spec: str = "celery"

    def __post_init__(self) -> None:
        # Frozen means frozen: nobody mutates the mapping behind the decision's back.
        object.__setattr__(self, "per_task", MappingProxyType(dict(self.per_task)))

    # -- construction ---------------------------------------------------------------
    @classmethod
    def parse(cls, spec: str) -> Rollout:
        """``legacy`` | ``celery`` | ``0``-``100`` | ``task_a=100,task_b=celery,default=10``."""
        text = spec.strip()
        if not text:
            raise ConfigError(f"{ENV_VAR} is empty; use 'legacy', 'celery', 0-100 or task=pct")
        if "=" not in text:
            return cls(default=parse_percentage(text), spec=text)
        default = 0.0
        per_task: dict[str, float] = {}
        for part in text.split(","):
            if not part.strip():
                continue
            name, sep, value = part.partition("=")
            name = name.strip()
            if not sep or not name:
                raise ConfigError(
                    f"{ENV_VAR}: {part!r} in {spec!r} is not task=pct; "
                    "write e.g. 'process_video_upload=100,default=10'"
                )
            pct = parse_percentage(value, what=f"{ENV_VAR} ({name})")
            if name in (_DEFAULT_KEY, ALL_TASKS):
                default = pct
            else:
                per_task[name] = pct
        return cls(default=default, per_task=per_task, spec=text)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Rollout:
        """From ``Q2C_ROLLOUT``; unset means every put goes to Celery."""
        env = os.environ if environ is None else environ
        spec = env.get(ENV_VAR, "").strip()
        return cls.parse(spec) if spec else cls.all_celery()

    @classmethod
    def all_celery(cls) -> Rollout:
        return cls(default=100.0, spec="celery")

    @classmethod
    def all_legacy(cls) -> Rollout:
        return cls(default=0.0, spec="legacy")

    # -- decision -------------------------------------------------------------------
    def percentage_for(self, task_name: str, overrides: Mapping[str, float] | None = None) -> float:
        """The effective percentage: task override > ``'*'`` override > configured."""
        if overrides:
            pct = overrides.get(task_name)
            if pct is None:
                pct = overrides.get(ALL_TASKS)
            if pct is not None:
                return pct
        return self.per_task.get(task_name, self.default)

    def configured_for(self, task_name: str) -> float:
        return self.per_task.get(task_name, self.default)

    def backend_for(
        self, task_name: str, key: object, overrides: Mapping[str, float] | None = None
    ) -> Backend:
        """``"celery"`` or ``"legacy"`` for this task and key; sends nothing."""
        pct = self.percentage_for(task_name, overrides)
        if pct >= 100.0:
            return "celery"
        if pct <= 0.0:
            return "legacy"
        return "celery" if bucket_for(task_name, key) < _threshold(pct) else "legacy"
