"""An app's log as server-sent events, for the API and the dashboard alike.

The newest lines come first, then (with `tail=1`) every new one.

Each event is `id: <stream id>` and `data: {"id", "app", "ts", "source", "dyno", "line"}`; a
reconnecting EventSource sends `Last-Event-ID` and continues after that line. A comment line every
15 seconds of silence keeps proxies from closing the connection.

Live tails share one Redis connection pool per API process, a user holds at most
`WHARF_MAX_LOG_TAILS_PER_USER` of them at once (counted in Redis, so across API processes), and each
re-checks every few seconds that its token is still valid and the app still the caller's: a revoked
token, a destroyed app or an app that changed hands ends the tail.
"""

from __future__ import annotations

import asyncio
import json
import secrets
import time
import weakref
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass

import anyio
import redis
import redis.asyncio
from fastapi.responses import StreamingResponse

from wharf.platform.errors import BadRequest, TooManyRequests
from wharf.platform.logs.stream import (
    SOURCES,
    LogLine,
    entry_from_fields,
    last_id,
    recent_lines,
    stream_key,
)
from wharf.platform.progress import BLOCK_SLICE_MS

KEEPALIVE_MS = 15_000
MAX_NUM = 10_000
# How often an open tail re-checks its caller's token and access to the app.
RECHECK_SECONDS = 5.0
# A tail's lease in the per-user count; refreshed at every re-check, so a crashed API frees its leases.
LEASE_SECONDS = 60
# Connections the API's tails share; a tail waits up to POOL_WAIT_SECONDS for a free one.
POOL_CONNECTIONS = 512
POOL_WAIT_SECONDS = 10

# KEYS[1] the user's lease set; ARGV: now, lease expiry, lease id, limit. Returns 1 if granted.
OPEN_LEASE = """
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[1])
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[4]) then
  return 0
end
redis.call('ZADD', KEYS[1], ARGV[2], ARGV[3])
redis.call('EXPIRE', KEYS[1], 2 * tonumber(ARGV[5]))
return 1
"""

StillAllowed = Callable[[], bool]


def lease_key(user_id: int) -> str:
    return f"wharf:log-tails:{user_id}"


@dataclass(frozen=True)
class LogQuery:
    """What the caller asked for: the newest NUM lines, then (TAIL) every new one, filtered."""

    num: int = 100
    tail: bool = False
    source: str | None = None
    dyno: str | None = None
    last_event_id: str | None = None


@dataclass(frozen=True)
class TailHolder:
    """Who holds a tail, and how to ask again whether they still may (False ends the tail)."""

    user_id: int
    still_allowed: StillAllowed


class LogTails:
    """What every live tail of one API process shares: a Redis connection pool and the per-user bound."""

    def __init__(self, redis_url: str, client: redis.Redis[bytes], *, max_per_user: int) -> None:
        self.redis_url = redis_url
        self.max_per_user = max_per_user
        self._sync = client
        self._open_lease = client.register_script(OPEN_LEASE)
        # asyncio connections belong to one event loop: one pooled client per loop (uvicorn runs one).
        self._clients: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, redis.asyncio.Redis[bytes]] = (
            weakref.WeakKeyDictionary()
        )

    def client(self) -> redis.asyncio.Redis[bytes]:
        loop = asyncio.get_running_loop()
        found = self._clients.get(loop)
        if found is None:
            pool: redis.asyncio.BlockingConnectionPool[redis.asyncio.Connection] = (
                redis.asyncio.BlockingConnectionPool.from_url(
                    self.redis_url, max_connections=POOL_CONNECTIONS, timeout=POOL_WAIT_SECONDS
                )
            )
            found = self._clients[loop] = redis.asyncio.Redis(connection_pool=pool)
        return found

    def open(self, user_id: int) -> str:
        """A lease for one more tail, or 429 naming the limit."""
        lease = secrets.token_hex(8)
        now = time.time()
        granted = self._open_lease(
            keys=[lease_key(user_id)],
            args=[now, now + LEASE_SECONDS, lease, self.max_per_user, LEASE_SECONDS],
        )
        if not granted:
            raise TooManyRequests(
                f"You already have {self.max_per_user} live log tails open, the limit on this host "
                "(WHARF_MAX_LOG_TAILS_PER_USER). Close one (end a `wharf logs --tail` or a dashboard log "
                "view) and try again.",
                retry_after=int(RECHECK_SECONDS),
                error_id="too_many_log_tails",
            )
        return lease

    async def refresh(self, user_id: int, lease: str) -> None:
        await self.client().zadd(lease_key(user_id), {lease: time.time() + LEASE_SECONDS})

    async def close(self, user_id: int, lease: str) -> None:
        await self.client().zrem(lease_key(user_id), lease)


def sse_event(entry: LogLine) -> str:
    return f"id: {entry.id}\ndata: {json.dumps(entry.to_json())}\n\n"


async def _tail(
    tails: LogTails,
    holder: TailHolder,
    lease: str,
    query: tuple[str, str, str | None, str | None],
) -> AsyncIterator[str]:
    app, after, source, dyno = query
    client = tails.client()
    silent_ms = 0
    checked = time.monotonic()
    while True:
        if time.monotonic() - checked >= RECHECK_SECONDS:
            checked = time.monotonic()
            if not await asyncio.to_thread(holder.still_allowed):
                yield ": access ended; reconnect to continue\n\n"
                return
            await tails.refresh(holder.user_id, lease)
        answer = await client.xread({stream_key(app): after}, block=BLOCK_SLICE_MS, count=500)
        if not answer:
            silent_ms += BLOCK_SLICE_MS
            if silent_ms >= KEEPALIVE_MS:
                silent_ms = 0
                yield ": keepalive\n\n"
            continue
        silent_ms = 0
        for entry_id, fields in answer[0][1]:
            entry = entry_from_fields(app, entry_id, fields)
            after = entry.id
            if entry.matches(source, dyno):
                yield sse_event(entry)


def log_event_stream(
    *,
    client: redis.Redis[bytes],
    tails: LogTails,
    holder: TailHolder,
    app_name: str,
    query: LogQuery,
) -> StreamingResponse:
    num, tail, source, dyno, last_event_id = (
        query.num,
        query.tail,
        query.source,
        query.dyno,
        query.last_event_id,
    )
    if source is not None and source not in SOURCES:
        raise BadRequest(f"Unknown source {source}: use one of {', '.join(SOURCES)}.", error_id="bad_source")
    lease = tails.open(holder.user_id) if tail else None
    if last_event_id:
        backlog: list[LogLine] = []
        after = last_event_id
    else:
        after = last_id(client, app_name)
        backlog = (
            recent_lines(client, app_name, num=num, source=source, dyno=dyno, until=after) if num else []
        )

    async def events() -> AsyncIterator[str]:
        try:
            for entry in backlog:
                yield sse_event(entry)
            if lease is not None:
                async for event in _tail(tails, holder, lease, (app_name, after, source, dyno)):
                    yield event
        finally:
            if lease is not None:
                # The response is cancelled when the client goes away: give the lease back regardless.
                with anyio.CancelScope(shield=True):
                    await tails.close(holder.user_id, lease)

    headers = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
    return StreamingResponse(events(), media_type="text/event-stream", headers=headers)
