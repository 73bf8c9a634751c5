"""The Lua scripts of the leased Redis transport (see ``_transport.py``).

Every script reads the clock with ``TIME`` on the Redis server, so leases written by
workers on different machines compare on one clock. Scores are seconds (float), the unit
kombu's ``unacked_index`` already uses.
"""

from __future__ import annotations

__all__ = ["CLAIM", "HEARTBEAT", "REAP", "SERVER_NOW"]

SERVER_NOW = """
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
"""

# Takes one message and records it as unacked in the same step: a SIGKILL can land
# before (the message is still in its list) or after (it is in the unacked hash, under a
# lease), never in between.
# KEYS: unacked hash, unacked index, lease index, dead-letter list, owners hash (tag ->
# "worker id|claim time", for ``where_is``), then the lists to try in order (this
# worker's fetch lists first, then the queue lists by priority). ARGV: worker id.
# The unacked entry is kombu's own format, ``[message, exchange, routing_key]``, built
# around the message's original bytes (never re-encoded: Lua's cjson would turn ``[]``
# into ``{}``). A message without a delivery tag cannot be tracked: it goes to the
# dead-letter list instead of being dropped.
# Returns {list key, message, 1}, {list key, message, 0} for a dead letter, or false.
CLAIM = (
    SERVER_NOW
    + """
for i = 6, #KEYS do
    local item = redis.call('RPOP', KEYS[i])
    if item then
        local ok, msg = pcall(cjson.decode, item)
        local tag, ex, rk
        if ok and type(msg) == 'table' and type(msg['properties']) == 'table' then
            local props = msg['properties']
            tag = props['delivery_tag']
            local info = props['delivery_info']
            if type(info) == 'table' then
                ex = info['exchange']
                rk = info['routing_key']
            end
        end
        if type(tag) ~= 'string' or tag == '' then
            redis.call('LPUSH', KEYS[4], item)
            return {KEYS[i], item, 0}
        end
        if type(ex) ~= 'string' then ex = '' end
        if type(rk) ~= 'string' then rk = '' end
        redis.call('HSET', KEYS[1], tag,
            '[' .. item .. ',' .. cjson.encode(ex) .. ',' .. cjson.encode(rk) .. ']')
        redis.call('ZADD', KEYS[2], now, tag)
        redis.call('ZADD', KEYS[3], now, tag)
        redis.call('HSET', KEYS[5], tag, ARGV[1] .. '|' .. tostring(now))
        return {KEYS[i], item, 1}
    end
end
return false
"""
)

# A worker's heartbeat. KEYS: workers zset, unacked index, lease index, this worker's
# fetch hash. ARGV: worker id, number of fetch pairs n, n pairs (fetch list, source
# list), then the delivery tags the worker holds. Renewing in the unacked index too keeps
# kombu's own visibility-timeout sweep (in any worker) off a task that is still running.
# ``XX``: a tag acked or restored meanwhile is not brought back.
HEARTBEAT = (
    SERVER_NOW
    + """
redis.call('ZADD', KEYS[1], now, ARGV[1])
local n = tonumber(ARGV[2])
for i = 0, n - 1 do
    redis.call('HSET', KEYS[4], ARGV[3 + 2 * i], ARGV[4 + 2 * i])
end
for i = 3 + 2 * n, #ARGV do
    redis.call('ZADD', KEYS[2], 'XX', now, ARGV[i])
    redis.call('ZADD', KEYS[3], 'XX', now, ARGV[i])
end
return tostring(now)
"""
)

# Puts back what dead workers had fetched but not yet claimed, and forgets the workers.
# KEYS: workers zset. ARGV: lease timeout (s), fetch-hash key prefix, and optionally one
# worker id to release now whatever its age (a clean shutdown). A fetch list holds at
# most the one message between a blocking fetch and the claim that follows it; it goes
# back to the consuming end of its queue list, untouched. Returns the lease-expired tags'
# cut-off (server time) and the number of messages put back.
REAP = (
    SERVER_NOW
    + """
local workers
if ARGV[3] then
    workers = {ARGV[3]}
else
    workers = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now - tonumber(ARGV[1]),
        'LIMIT', 0, 100)
end
local moved = 0
for _, w in ipairs(workers) do
    local hash = ARGV[2] .. w
    local pairs_ = redis.call('HGETALL', hash)
    for j = 1, #pairs_, 2 do
        while true do
            local item = redis.call('LPOP', pairs_[j])
            if not item then break end
            redis.call('RPUSH', pairs_[j + 1], item)
            moved = moved + 1
        end
    end
    redis.call('DEL', hash)
    redis.call('ZREM', KEYS[1], w)
end
return {tostring(now - tonumber(ARGV[1])), moved}
"""
)
