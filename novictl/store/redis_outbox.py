"""The webhook outbox in Redis: key layout and the Lua scripts that claim and save deliveries atomically.

Layout (under the store's prefix): ``outbox`` hash id → Delivery JSON; ``outbox_due`` sorted set of pending
ids scored by when they may be (re)tried; ``outbox_delivered`` / ``outbox_failed`` / ``outbox_dropped``
sorted sets of finished ids scored by when they finished (counted with ZCARD, pruned by age and count).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass

from novictl.store.outbox import FINISHED_STATES, Delivery, DeliveryState

__all__ = ["CLAIM_DUE", "SAVE_DELIVERIES", "OutboxKeys", "decode_deliveries"]

logger = logging.getLogger("novictl.store")

# KEYS: outbox, due; ARGV: now score, lease-until score, limit
# Returns the documents of the due deliveries, each now leased (its due score moved to the lease's end).
CLAIM_DUE = """
local outbox, due = KEYS[1], KEYS[2]
local ids = redis.call('ZRANGEBYSCORE', due, '-inf', ARGV[1], 'LIMIT', 0, tonumber(ARGV[3]))
local docs = {}
for _, id in ipairs(ids) do
  local doc = redis.call('HGET', outbox, id)
  if doc then
    redis.call('ZADD', due, ARGV[2], id)
    docs[#docs + 1] = doc
  else
    redis.call('ZREM', due, id)
  end
end
return docs
"""

# KEYS: outbox, due, delivered, failed, dropped
# ARGV: age cutoff score, how many finished to keep per state, then (id, state, score, json) per delivery.
# A pending delivery's score is its next attempt; a finished one's, when it finished.
SAVE_DELIVERIES = """
local outbox, due = KEYS[1], KEYS[2]
local finished = {delivered = KEYS[3], failed = KEYS[4], dropped = KEYS[5]}
for i = 3, #ARGV, 4 do
  local id, state, score, doc = ARGV[i], ARGV[i + 1], ARGV[i + 2], ARGV[i + 3]
  if redis.call('HEXISTS', outbox, id) == 1 then
    redis.call('HSET', outbox, id, doc)
    if state == 'pending' then
      redis.call('ZADD', due, score, id)
    else
      redis.call('ZREM', due, id)
      redis.call('ZADD', finished[state], score, id)
    end
  end
end
local keep = tonumber(ARGV[2])
for k = 3, 5 do
  local old = redis.call('ZRANGEBYSCORE', KEYS[k], '-inf', '(' .. ARGV[1])
  local size = redis.call('ZCARD', KEYS[k]) - #old
  if size > keep then
    local extra = redis.call('ZRANGE', KEYS[k], #old, #old + size - keep - 1)
    for _, id in ipairs(extra) do old[#old + 1] = id end
  end
  for _, id in ipairs(old) do
    redis.call('HDEL', outbox, id)
    redis.call('ZREM', KEYS[k], id)
  end
end
return 1
"""


@dataclass(frozen=True)
class OutboxKeys:
    """The outbox's keys under one prefix."""

    prefix: str

    @property
    def outbox(self) -> str:
        return self.prefix + "outbox"

    @property
    def due(self) -> str:
        return self.prefix + "outbox_due"

    def finished(self, state: DeliveryState) -> str:
        return f"{self.prefix}outbox_{state}"

    def state_sets(self) -> dict[DeliveryState, str]:
        """Every state's sorted set, pending first."""
        sets: dict[DeliveryState, str] = {"pending": self.due}
        sets.update({state: self.finished(state) for state in FINISHED_STATES})
        return sets

    def save_keys(self) -> list[str]:
        return [self.outbox, self.due, *(self.finished(state) for state in FINISHED_STATES)]


def decode_deliveries(documents: Iterable[str | None]) -> list[Delivery]:
    found: list[Delivery] = []
    for document in documents:
        if document is None:
            continue
        try:
            found.append(Delivery.model_validate_json(document))
        except ValueError:
            logger.error("skipping a corrupt stored webhook delivery (%d bytes)", len(document))
    return found
