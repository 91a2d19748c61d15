"""Token buckets in Redis, refilled continuously, spent and counted by one Lua script per request.

Each bucket holds up to its limit and refills continuously over the window (4,500 an hour by default,
as Heroku's API limit does). A request spends one token from every bucket that applies (its token's and
its account's, or its address's); when any is empty, nothing is spent and the caller is told how long
to wait. The same call adds the request to the day's usage hash of the account, kept 31 days.
"""

from __future__ import annotations

import asyncio
import hashlib
import math
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Literal

import redis
import redis.asyncio
from redis.commands.core import AsyncScript

from wharf.platform.settings import Settings

Kind = Literal["api", "git", "logs"]
KINDS: tuple[Kind, ...] = ("api", "git", "logs")
USAGE_DAYS_KEPT = 31
BUCKET_PREFIX = "wharf:ratelimit:bucket:"


# Keys carry the installation: two Wharfs sharing one Redis number their accounts alike.
def bucket_key(installation: str, name: str) -> str:
    return f"{BUCKET_PREFIX}{installation}:{name}"


def usage_key(installation: str, day: str) -> str:
    return f"wharf:usage:{installation}:{day}"


# KEYS: bucket keys..., usage hash. ARGV: limit per bucket..., usage field, usage ttl, window in ms.
# Each bucket is a hash {tokens, ms}; it expires once it would be full again.
SPEND = """
local now = redis.call('TIME')
local ms = now[1] * 1000 + math.floor(now[2] / 1000)
local n = #KEYS - 1
local tokens = {}
local allowed = 1
local remaining = -1
local limit_shown = 0
local wait_ms = 0
local full_ms = 0
for i = 1, n do
  local limit = tonumber(ARGV[i])
  local rate = limit / tonumber(ARGV[#ARGV])
  local state = redis.call('HMGET', KEYS[i], 'tokens', 'ms')
  local have = tonumber(state[1])
  if have == nil then
    have = limit
  else
    have = math.min(limit, have + (ms - tonumber(state[2])) * rate)
  end
  tokens[i] = have
  if have < 1 then
    allowed = 0
    wait_ms = math.max(wait_ms, math.ceil((1 - have) / rate))
  end
end
for i = 1, n do
  local limit = tonumber(ARGV[i])
  local rate = limit / tonumber(ARGV[#ARGV])
  local have = tokens[i]
  if allowed == 1 then
    have = have - 1
    redis.call('HSET', KEYS[i], 'tokens', have, 'ms', ms)
    redis.call('PEXPIRE', KEYS[i], math.ceil((limit - have) / rate) + 1000)
  end
  local whole = math.floor(have)
  if remaining < 0 or whole < remaining then
    remaining = whole
    limit_shown = limit
    full_ms = math.ceil((limit - have) / rate)
  end
end
if allowed == 1 then
  redis.call('HINCRBY', KEYS[n + 1], ARGV[n + 1], 1)
  redis.call('EXPIRE', KEYS[n + 1], ARGV[n + 2])
end
return {allowed, remaining, limit_shown, wait_ms, full_ms}
"""


@dataclass(frozen=True)
class Bucket:
    name: str
    limit: int


@dataclass(frozen=True)
class Verdict:
    allowed: bool
    limit: int
    remaining: int
    # Seconds until a refused request would pass, and until the tightest bucket is full again.
    retry_after: int
    reset: int
    window: int


def _hashed(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()[:32]


class RateLimiter:
    """Spends from the buckets of one request; one round trip to Redis."""

    def __init__(
        self,
        client: redis.Redis[bytes],
        settings: Settings,
        async_url: str | None = None,
    ) -> None:
        self._spend = client.register_script(SPEND)
        self._async_url = async_url
        # An asyncio client belongs to the event loop it first ran on: one per loop (one in production).
        self._async_spend: tuple[asyncio.AbstractEventLoop, AsyncScript] | None = None
        self._settings = settings

    def limit_for(self, kind: Kind, *, anonymous: bool = False) -> int:
        s = self._settings
        if kind == "git":
            return s.wharf_git_rate_limit
        if kind == "logs":
            return s.wharf_log_tail_rate_limit
        return s.wharf_anonymous_rate_limit if anonymous else s.wharf_api_rate_limit

    @property
    def window_seconds(self) -> int:
        return self._settings.wharf_rate_limit_window_seconds

    def buckets(self, kind: Kind, *, user_id: int | None, token_id: int | None, address: str) -> list[Bucket]:
        if user_id is None:
            return [Bucket(f"{kind}:address:{_hashed(address)}", self.limit_for(kind, anonymous=True))]
        limit = self.limit_for(kind)
        found = [Bucket(f"{kind}:account:{user_id}", limit)]
        if token_id is not None:
            found.append(Bucket(f"{kind}:token:{token_id}", limit))
        return found

    def _arguments(
        self, kind: Kind, user_id: int | None, token_id: int | None, address: str
    ) -> tuple[list[str], list[str | int]]:
        buckets = self.buckets(kind, user_id=user_id, token_id=token_id, address=address)
        day = datetime.now(UTC).strftime("%Y-%m-%d")
        field = f"{user_id if user_id is not None else 'anonymous'}:{kind}"
        installation = self._settings.installation_id
        keys = [bucket_key(installation, b.name) for b in buckets] + [usage_key(installation, day)]
        window_ms = self.window_seconds * 1000
        args: list[str | int] = [*(b.limit for b in buckets), field, USAGE_DAYS_KEPT * 86400, window_ms]
        return keys, args

    def _verdict(self, answer: list[int]) -> Verdict:
        allowed, remaining, limit, wait_ms, full_ms = answer
        return Verdict(
            allowed=bool(allowed),
            limit=int(limit),
            remaining=max(0, int(remaining)),
            retry_after=max(1, math.ceil(int(wait_ms) / 1000)) if not allowed else 0,
            reset=math.ceil(int(full_ms) / 1000),
            window=self.window_seconds,
        )

    def spend(
        self, kind: Kind, *, user_id: int | None, token_id: int | None = None, address: str = "unknown"
    ) -> Verdict:
        keys, args = self._arguments(kind, user_id, token_id, address)
        return self._verdict(self._spend(keys=keys, args=args))

    async def spend_async(
        self, kind: Kind, *, user_id: int | None, token_id: int | None = None, address: str = "unknown"
    ) -> Verdict:
        """The same, on an asyncio client of the running event loop (the API's)."""
        assert self._async_url is not None, "created without a Redis URL for asyncio"
        loop = asyncio.get_running_loop()
        if self._async_spend is None or self._async_spend[0] is not loop:
            client: redis.asyncio.Redis[bytes] = redis.asyncio.Redis.from_url(self._async_url)
            self._async_spend = (loop, client.register_script(SPEND))
        keys, args = self._arguments(kind, user_id, token_id, address)
        return self._verdict(await self._async_spend[1](keys=keys, args=args))
