"""The Lua scripts the Redis backend runs: each does a whole batch atomically, in one round trip.

Layout (every key under the prefix): ``records`` hash id → record JSON; ``record_names`` hash id → name and
``name_index`` sorted set of ``name NUL id`` (exact-name lookups by lexical range); ``last_used`` hash
id → ``"<epoch µs> <source>"``, the latest use, which only moves forward.
"""

from __future__ import annotations

__all__ = [
    "DELETE_RECORDS",
    "EXTEND_LOCK",
    "MERGE_RECORDS",
    "PUT_RECORDS",
    "RELEASE_LOCK",
    "REWRITE_RECORDS",
    "UPDATE_USED",
]

# Shared by the record writers: store one document, keep the name index in step, move last use forward.
_WRITE_RECORD = """
local records, names, index, used = KEYS[1], KEYS[2], KEYS[3], KEYS[4]
local function write(id, name, doc, us, source)
  local old = redis.call('HGET', names, id)
  if old ~= name then
    if old then redis.call('ZREM', index, old .. '\\0' .. id) end
    redis.call('ZADD', index, 0, name .. '\\0' .. id)
    redis.call('HSET', names, id, name)
  end
  redis.call('HSET', records, id, doc)
  if us ~= '' then
    local latest = redis.call('HGET', used, id)
    if (not latest) or tonumber(us) > tonumber(string.match(latest, '^%d+')) then
      redis.call('HSET', used, id, us .. ' ' .. source)
    end
  end
end
"""

# KEYS: records, record_names, name_index, last_used
# ARGV: (id, name, json, used µs or "", used source) per record
PUT_RECORDS = (
    _WRITE_RECORD
    + """
for i = 1, #ARGV, 5 do
  write(ARGV[i], ARGV[i + 1], ARGV[i + 2], ARGV[i + 3], ARGV[i + 4])
end
return #ARGV / 5
"""
)

# KEYS: records, record_names, name_index, last_used
# ARGV: (id, name, json as read or "" if it was absent, merged json, used µs or "", used source) per record
# Compare-and-set per record: a record changed since it was read is left alone and its id returned, so the
# caller re-reads and re-merges only those. (The merge itself is done by the caller, not with cjson here:
# cjson would turn [] into {} and round big numbers in fields the writer does not own.)
MERGE_RECORDS = (
    _WRITE_RECORD
    + """
local conflicts = {}
for i = 1, #ARGV, 6 do
  local id = ARGV[i]
  if (redis.call('HGET', records, id) or '') ~= ARGV[i + 2] then
    conflicts[#conflicts + 1] = id
  else
    write(id, ARGV[i + 1], ARGV[i + 3], ARGV[i + 4], ARGV[i + 5])
  end
end
return conflicts
"""
)

# KEYS: records, record_names, name_index, last_used
# ARGV: ids
DELETE_RECORDS = """
local records, names, index, used = KEYS[1], KEYS[2], KEYS[3], KEYS[4]
local deleted = 0
for i = 1, #ARGV do
  local id = ARGV[i]
  local name = redis.call('HGET', names, id)
  if name then redis.call('ZREM', index, name .. '\\0' .. id) end
  redis.call('HDEL', names, id)
  redis.call('HDEL', used, id)
  deleted = deleted + redis.call('HDEL', records, id)
end
return deleted
"""

# KEYS: records, last_used
# ARGV: (id, used µs, source) per update; unknown ids are ignored
UPDATE_USED = """
local records, used = KEYS[1], KEYS[2]
local changed = 0
for i = 1, #ARGV, 3 do
  local id, us, source = ARGV[i], ARGV[i + 1], ARGV[i + 2]
  if redis.call('HEXISTS', records, id) == 1 then
    local current = redis.call('HGET', used, id)
    if (not current) or tonumber(us) > tonumber(string.match(current, '^%d+')) then
      redis.call('HSET', used, id, us .. ' ' .. source)
      changed = changed + 1
    end
  end
end
return changed
"""

# KEYS: records, counters
# ARGV: counter name, then (id, stored json, repaired json, fields repaired) per record
# Writes a repaired record back only if nobody changed it since it was read.
REWRITE_RECORDS = """
local records, counters = KEYS[1], KEYS[2]
local repaired = 0
for i = 2, #ARGV, 4 do
  if redis.call('HGET', records, ARGV[i]) == ARGV[i + 1] then
    redis.call('HSET', records, ARGV[i], ARGV[i + 2])
    repaired = repaired + tonumber(ARGV[i + 3])
  end
end
if repaired > 0 then redis.call('HINCRBYFLOAT', counters, ARGV[1], repaired) end
return repaired
"""

# KEYS: lock; ARGV: token
RELEASE_LOCK = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""

# KEYS: lock; ARGV: token, ttl ms
EXTEND_LOCK = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
return 0
"""
