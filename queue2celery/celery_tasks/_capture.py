"""``apply_async`` with the final push taken over: the messages kombu built, pushed by us.

Apps with ``task_routes``, ``global_keyprefix``, compression or publish signals need Celery's
own ``apply_async`` to build their messages. kombu then pushes each one with a plain LPUSH,
and an LPUSH written to a frozen Redis runs when Redis wakes up, after the client gave up
and applied its outage policy: the task ends up queued twice, or run in process and in
Celery. So apply_async runs here on a producer whose channel *captures* what kombu's Redis
transport would push (the full key and the exact JSON) and touches no server at all; the
sender then pushes the captured messages with the fast path's Lua script: a deadline (a
late publish does nothing) and the sent marker SET NX (a task id is queued at most once).
Routing, signals, compression and serialization stay Celery's and kombu's own.

The channel is kombu's virtual in-memory channel with the Redis transport's key layout
(priority lists, separator, ``global_keyprefix``). Exchange bindings are resolved in
memory from what Celery declares while publishing, as kombu's Redis transport resolves them
from the binding sets it writes to Redis. Fanout (broadcast) exchanges are not captured.
"""

from __future__ import annotations

import threading
from bisect import bisect
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from celery import Celery
from kombu.transport import memory, virtual
from kombu.utils.json import dumps

__all__ = ["CaptureTransport", "capture_connection", "capturing"]

_local = threading.local()
# kombu.transport.redis: Channel.sep and PRIORITY_STEPS.
_DEFAULT_SEP = "\x06\x16"
_DEFAULT_STEPS = [0, 3, 6, 9]


@contextmanager
def capturing() -> Iterator[list[tuple[str, str]]]:
    """Within the block, this thread's captured pushes land in the yielded list."""
    sink: list[tuple[str, str]] = []
    previous = getattr(_local, "sink", None)
    _local.sink = sink
    try:
        yield sink
    finally:
        _local.sink = previous


class CaptureChannel(memory.Channel):
    """Records ``(full Redis key, message JSON)`` as kombu's Redis ``_put`` would LPUSH it."""

    # Class-level in kombu's memory channel; one per capture channel here.
    queues: dict[str, Any]
    sep = _DEFAULT_SEP
    priority_steps = _DEFAULT_STEPS
    global_keyprefix = ""
    from_transport_options: tuple[str, ...] = (  # type: ignore[assignment]
        *virtual.Channel.from_transport_options,
        "sep",
        "priority_steps",
        "global_keyprefix",
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.queues = {}

    def priority(self, n: int) -> int:
        steps = sorted(self.priority_steps)
        return int(steps[bisect(steps, n) - 1])

    def _put(self, queue: str, message: dict[str, Any], **kwargs: Any) -> None:
        pri = self.priority(self._get_message_priority(message, reverse=False))
        key = f"{queue}{self.sep}{pri}" if pri else queue
        sink = getattr(_local, "sink", None)
        if sink is None:
            raise RuntimeError("a capture producer published outside capturing()")
        sink.append((self.global_keyprefix + key, dumps(message)))


class CaptureTransport(memory.Transport):
    """A transport that never connects: publishing through it only captures."""

    Channel = CaptureChannel
    state = virtual.BrokerState()
    driver_type = "redis"
    driver_name = "q2c-capture"


def capture_connection(app: Celery) -> Any:
    """A kombu connection for ``app`` whose publishes are captured (it never connects)."""
    return app.connection_for_write(transport=CaptureTransport)
