"""The one way a task message reaches Redis here: a Lua script with a deadline and a marker.

Used by CompatQueue (both send paths) and by the status API's ``POST /tasks/{name}``, so a
task id is queued at most once whoever sends it, and a publish that a frozen Redis runs
after its client gave up does nothing.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

import redis

__all__ = ["PUSH_SCRIPT", "GuardedPush", "PublishExpired"]

# KEYS: n queue keys, then n sent-marker keys; ARGV: marker TTL, deadline (server time in
# ms, 0 for none), then the n messages. LPUSH one by one keeps FIFO order within a queue.
# The deadline makes a publish that reached a frozen Redis, whose client gave up waiting,
# do nothing when Redis wakes up: the client has already applied its outage policy.
# The marker is SET NX: a task id whose marker exists was published before (a publish whose
# answer was lost, then sent again), so its messages are not pushed a second time.
PUSH_SCRIPT = """
local t = redis.call('TIME')
local deadline = tonumber(ARGV[2])
if deadline > 0 and tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000) > deadline then
    return -1
end
local n = #ARGV - 2
local ttl = tonumber(ARGV[1])
local fresh = {}
local pushed = 0
for i = 1, n do
    local marker = KEYS[n + i]
    if fresh[marker] == nil then
        -- The marker's value is the send time (server seconds): doctor --task reads its age.
        fresh[marker] = redis.call('SET', marker, t[1], 'NX', 'EX', ttl) and true or false
    end
    if fresh[marker] then
        redis.call('LPUSH', KEYS[i], ARGV[i + 2])
        pushed = pushed + 1
    end
end
return pushed
"""


class PublishExpired(redis.TimeoutError):
    """Raised when Redis ran a publish only after its client's deadline (so it did nothing)."""


class GuardedPush:
    """Pushes ``(key, message, marker key)`` triples through :data:`PUSH_SCRIPT`."""

    def __init__(self, client: redis.Redis, *, marker_ttl: int, timeout: float) -> None:
        self.client = client
        self.marker_ttl = marker_ttl
        # Leave the reply time to come back before the client's socket timeout hits.
        self._deadline_after_ms = int(max(timeout - min(0.5, timeout / 4), 0.1) * 1000)
        self._clock_offset_ms: float | None = None
        self._script = client.register_script(PUSH_SCRIPT)

    @property
    def clock_synced(self) -> bool:
        return self._clock_offset_ms is not None

    def sync_clock(self) -> None:
        """Measure the Redis server's clock against ours (for publish deadlines)."""
        before = time.time()
        seconds, micros = self.client.time()
        after = time.time()
        self._clock_offset_ms = (seconds + micros / 1e6 - (before + after) / 2) * 1000

    def push(self, triples: Sequence[tuple[str, str, str]]) -> int:
        """Push all or none; returns how many were pushed (ids already sent are skipped).

        Raises PublishExpired when Redis ran the script after the deadline (nothing done),
        and redis-py's errors when it did not answer (the outcome is then unknown).
        """
        if not triples:
            return 0
        deadline = 0
        if self._clock_offset_ms is not None:
            deadline = int(time.time() * 1000 + self._clock_offset_ms + self._deadline_after_ms)
        keys = [key for key, _m, _k in triples] + [marker for _k, _m, marker in triples]
        args: list[Any] = [self.marker_ttl, deadline, *(m for _k, m, _mk in triples)]
        pushed = int(self._script(keys=keys, args=args))
        if pushed == -1:
            raise PublishExpired("Redis ran the publish after its deadline; it did nothing")
        return pushed
