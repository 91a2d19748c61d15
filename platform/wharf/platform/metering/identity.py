"""Which account and token a request's secret belongs to, for bucketing only (never for access)."""

from __future__ import annotations

import time

from sqlalchemy import select

from wharf.platform.db import session_scope
from wharf.platform.models import ApiToken
from wharf.platform.security.tokens import digest

CACHE_SECONDS = 60.0
CACHE_ENTRIES = 10_000

Owner = tuple[int, int]  # (user id, token id)


class TokenOwners:
    """A small per-process cache, so that metering costs one database read per token a minute.

    A stale entry only means a revoked token's request is counted on its former account's bucket; the
    route still authenticates every request itself.
    """

    def __init__(self, database_url: str) -> None:
        self._database_url = database_url
        self._cache: dict[str, tuple[float, Owner | None]] = {}

    def cached(self, secret: str) -> tuple[bool, Owner | None]:
        """(found, owner) from the cache alone, without touching the database."""
        cached = self._cache.get(digest(secret))
        if cached is not None and time.monotonic() - cached[0] < CACHE_SECONDS:
            return True, cached[1]
        return False, None

    def lookup(self, secret: str) -> Owner | None:
        found, owner = self.cached(secret)
        if found:
            return owner
        hashed = digest(secret)
        now = time.monotonic()
        with session_scope(self._database_url) as session:
            row = session.execute(
                select(ApiToken.user_id, ApiToken.id).where(ApiToken.token_hash == hashed)
            ).first()
        owner = (int(row[0]), int(row[1])) if row is not None else None
        if len(self._cache) >= CACHE_ENTRIES:
            self._cache.clear()
        self._cache[hashed] = (now, owner)
        return owner
