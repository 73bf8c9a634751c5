"""What a sender is told (its policy) and what it leaves behind (its ledger).

The sender gets these two narrow objects instead of its CompatQueue (as dramatiq's middleware
hooks get the broker): it reads its policy, and writes counts, the ids ``join()`` waits for
and whether a replay is due. It never reaches back into the queue.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from ..errors import redact_text, redact_url

__all__ = ["DEFAULT_MAX_PAYLOAD_BYTES", "Ledger", "SendPolicy"]

# A task message above this is refused with a PayloadError before anything is sent. Redis
# takes up to 512 MB per value, but a message of hundreds of MB blocks the broker's single
# thread for seconds and outlasts every socket timeout: it looks like an outage.
DEFAULT_MAX_PAYLOAD_BYTES = 16 * 1024 * 1024
# join() waits for at most this many Celery ids sent since the last join.
_MAX_TRACKED = 100_000


@dataclass(frozen=True)
class SendPolicy:
    """How one CompatQueue sends: its outage policy, bounds and limits."""

    on_broker_error: str
    strict: bool
    broker_url: str
    broker_timeout: float
    probe_interval: float
    max_payload_bytes: int = DEFAULT_MAX_PAYLOAD_BYTES
    # Transport options and other URLs whose passwords must never be shown.
    secret_sources: tuple[Any, ...] = ()

    @property
    def redacted_broker_url(self) -> str:
        return redact_url(self.broker_url)

    def scrub(self, text: str) -> str:
        """``text`` without any password of the broker URL or the transport options."""
        return redact_text(text, self.broker_url, *self.secret_sources)


class Ledger:
    """Counts per (task, kind), the ids join() waits for, and whether a replay is due."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counts: Counter[tuple[str, str]] = Counter()
        self._outstanding: set[str] = set()
        self.replay_due = False

    def count(self, task: str, kind: str, n: int = 1) -> None:
        with self._lock:
            self._counts[(task, kind)] += n

    def counts(self) -> Counter[tuple[str, str]]:
        with self._lock:
            return Counter(self._counts)

    def take_counts(self) -> Counter[tuple[str, str]]:
        with self._lock:
            counts, self._counts = self._counts, Counter()
        return counts

    def give_back(self, counts: Counter[tuple[str, str]]) -> None:
        with self._lock:
            self._counts.update(counts)

    def track(self, task_ids: Iterable[str]) -> None:
        with self._lock:
            if len(self._outstanding) < _MAX_TRACKED:
                self._outstanding.update(task_ids)

    def outstanding(self) -> set[str]:
        with self._lock:
            return set(self._outstanding)

    def finished(self, task_ids: Iterable[str]) -> None:
        with self._lock:
            self._outstanding.difference_update(task_ids)
