"""Throttling of failed authentication attempts, per client and per account, in Redis.

Only failures count, so a user who types their password right is never slowed down, and a
flood of wrong guesses from one address or against one account gets 429 with Retry-After.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import redis


@dataclass(frozen=True)
class Limit:
    scope: str
    key: str
    max_failures: int

    @property
    def redis_key(self) -> str:
        hashed = hashlib.sha256(self.key.encode()).hexdigest()[:32]
        return f"wharf:ratelimit:{self.scope}:{hashed}"


class RateLimited(Exception):
    def __init__(self, retry_after: int) -> None:
        super().__init__(f"retry after {retry_after}s")
        self.retry_after = retry_after


class FailureLimiter:
    def __init__(self, client: redis.Redis[bytes], window_seconds: int) -> None:
        self._redis = client
        self._window = window_seconds

    def check(self, *limits: Limit) -> None:
        """Raise RateLimited when any of the limits is already spent."""
        for limit in limits:
            count = self._redis.get(limit.redis_key)
            if count is not None and int(count) >= limit.max_failures:
                ttl = int(self._redis.ttl(limit.redis_key))
                raise RateLimited(retry_after=max(ttl, 1))

    def record_failure(self, *limits: Limit) -> None:
        pipe = self._redis.pipeline()
        for limit in limits:
            pipe.incr(limit.redis_key)
            pipe.expire(limit.redis_key, self._window, nx=True)
        pipe.execute()
