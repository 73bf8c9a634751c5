"""The live rollout override and the per-task put counters, kept in Redis.

Keys (``ns`` is the namespace, ``q2c`` by default; each also starts with the app's
``global_keyprefix`` when it has one, like every key the toolkit writes):

* ``ns:rollout`` - hash, task name (or ``*``) -> percentage: the override;
* ``ns:rollout:configured`` - hash, task name -> what running processes were configured with;
* ``ns:rollout:count:celery`` / ``:legacy`` / ``:fallback`` - hash, task name -> puts.

Processes read the override in a background thread (never on a put) and add their counts
in one pipeline every couple of seconds.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import redis

from ..errors import ConfigError
from .rollout import ALL_TASKS, parse_percentage

__all__ = ["COUNTER_KINDS", "RolloutRow", "RolloutStore"]

log = logging.getLogger(__name__)

DEFAULT_NAMESPACE = "q2c"
# "fallback": puts that were meant for Celery but ran in process because the broker was down.
COUNTER_KINDS = ("celery", "legacy", "fallback")


@dataclass(frozen=True)
class RolloutRow:
    """One task in ``rollout show``."""

    task: str
    configured: str | None
    override: float | None
    counts: Mapping[str, int]


def _text(value: Any) -> str:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)


class RolloutStore:
    """Reads and writes the override and counters under one namespace."""

    def __init__(
        self, client: redis.Redis, namespace: str = DEFAULT_NAMESPACE, prefix: str = ""
    ) -> None:
        if not namespace or any(c.isspace() for c in namespace):
            raise ConfigError(f"rollout namespace {namespace!r} must be a non-empty word")
        self.client = client
        self.namespace = namespace
        self.prefix = prefix
        self.override_key = f"{prefix}{namespace}:rollout"
        self.configured_key = f"{prefix}{namespace}:rollout:configured"
        self.count_keys = {
            kind: f"{prefix}{namespace}:rollout:count:{kind}" for kind in COUNTER_KINDS
        }

    # -- override -------------------------------------------------------------------
    def read_overrides(self) -> dict[str, float]:
        raw = self.client.hgetall(self.override_key)
        overrides: dict[str, float] = {}
        for name, value in raw.items():
            try:
                overrides[_text(name)] = parse_percentage(_text(value), what=self.override_key)
            except ConfigError as exc:
                # A bad value typed by hand must not stop every producer; ignore it loudly.
                log.warning("ignoring rollout override: %s", exc)
        return overrides

    def set_override(self, task: str, pct: float) -> None:
        """Set one task's percentage; ``task='*'`` replaces every override (the kill switch).

        ``set '*' 0`` must send everything back to legacy even where a task had its own
        override, so a ``*`` override first removes the per-task ones, atomically.
        """
        if not 0.0 <= pct <= 100.0:
            raise ConfigError(f"rollout percentage {pct!r} is outside 0..100")
        value = f"{pct:g}"
        if task == ALL_TASKS:
            with self.client.pipeline(transaction=True) as pipe:
                pipe.delete(self.override_key)
                pipe.hset(self.override_key, ALL_TASKS, value)
                pipe.execute()
        else:
            self.client.hset(self.override_key, task, value)

    def clear(self, task: str | None = None) -> None:
        """Remove one task's override, or all of them (configured values apply again)."""
        if task is None:
            self.client.delete(self.override_key)
        else:
            self.client.hdel(self.override_key, task)

    # -- counters and configured values ----------------------------------------------
    def add_counts(self, counts: Mapping[tuple[str, str], int]) -> None:
        """Add ``{(task, kind): n}`` in one round trip."""
        if not counts:
            return
        with self.client.pipeline(transaction=False) as pipe:
            for (task, kind), n in counts.items():
                pipe.hincrby(self.count_keys[kind], task, n)
            pipe.execute()

    def report_configured(self, configured: Mapping[str, str]) -> None:
        if configured:
            mapping: dict[str | bytes, str | bytes] = dict(configured.items())
            self.client.hset(self.configured_key, mapping=mapping)  # type: ignore[arg-type]

    def reset_counts(self, tasks: Iterable[str] | None = None) -> None:
        if tasks is None:
            self.client.delete(*self.count_keys.values())
            return
        names = list(tasks)
        if names:
            with self.client.pipeline(transaction=False) as pipe:
                for key in self.count_keys.values():
                    pipe.hdel(key, *names)
                pipe.execute()

    # -- report ---------------------------------------------------------------------
    def rows(self) -> list[RolloutRow]:
        """Every task any process reported, overrode or counted, sorted by name."""
        with self.client.pipeline(transaction=False) as pipe:
            pipe.hgetall(self.configured_key)
            for key in self.count_keys.values():
                pipe.hgetall(key)
            configured_raw, *count_raw = pipe.execute()
        overrides = self.read_overrides()
        configured = {_text(k): _text(v) for k, v in configured_raw.items()}
        counts: dict[str, dict[str, int]] = {}
        for kind, raw in zip(COUNTER_KINDS, count_raw, strict=True):
            for name, n in raw.items():
                counts.setdefault(_text(name), dict.fromkeys(COUNTER_KINDS, 0))[kind] = int(n)
        names = sorted(set(configured) | set(overrides) | set(counts))
        return [
            RolloutRow(
                task=name,
                configured=configured.get(name),
                override=overrides.get(name),
                counts=counts.get(name, dict.fromkeys(COUNTER_KINDS, 0)),
            )
            for name in names
        ]
