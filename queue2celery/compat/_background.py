"""The circuit breaker and the one background thread each CompatQueue runs.

The thread does the periodic work that must never happen on a put: probing the broker
while the breaker is open, reading the live rollout override, flushing the put counters
and replaying the spool.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

__all__ = ["Background", "CircuitBreaker", "Job"]

log = logging.getLogger(__name__)


class CircuitBreaker:
    """Open after a broker failure; closed again only by a successful probe.

    While open, puts skip the broker and go straight to the outage policy, so a thousand
    puts during an outage cost a thousand policy decisions, not a thousand timeouts.
    """

    def __init__(self) -> None:
        self.is_open = False
        self.opened_at: float | None = None
        self.last_error: BaseException | None = None
        self._lock = threading.Lock()

    def trip(self, exc: BaseException) -> bool:
        """Open the breaker; True if it was closed (the first failure of an outage)."""
        with self._lock:
            self.last_error = exc
            if self.is_open:
                return False
            self.is_open = True
            self.opened_at = time.monotonic()
            return True

    def reset(self) -> None:
        with self._lock:
            self.is_open = False
            self.opened_at = None


@dataclass
class Job:
    """A function the background thread runs every ``interval`` seconds."""

    name: str
    interval: float
    run: Callable[[], None]
    due: float = field(default=0.0)


class Background:
    """A daemon thread running jobs on their intervals until stopped."""

    def __init__(self, name: str, jobs: list[Job], tick: float = 0.1) -> None:
        self.name = name
        self.jobs = jobs
        self.tick = tick
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    def start(self) -> None:
        with self._lock:
            if self._thread is not None and self._thread.is_alive():
                return
            self._stop.clear()
            self._thread = threading.Thread(target=self._loop, name=self.name, daemon=True)
            self._thread.start()

    def wake(self, job_name: str) -> None:
        """Run ``job_name`` at the next tick instead of waiting for its interval."""
        for job in self.jobs:
            if job.name == job_name:
                job.due = 0.0
        self._wake.set()

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        self._wake.set()
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout)

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def _loop(self) -> None:
        while not self._stop.is_set():
            now = time.monotonic()
            for job in self.jobs:
                if now >= job.due and not self._stop.is_set():
                    try:
                        job.run()
                    except Exception:  # a failing job must not kill the thread
                        log.exception("queue2celery background job %r failed", job.name)
                    job.due = time.monotonic() + job.interval
            self._wake.wait(self.tick)
            self._wake.clear()
