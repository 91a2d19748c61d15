"""Rate limits on the API and the git endpoint, as an ASGI middleware in front of every route.

Every answer under /api/ and /git/ carries `RateLimit-Limit`, `RateLimit-Remaining`, `RateLimit-Reset`
and `RateLimit-Policy`; past the limit the answer is 429 with `Retry-After`, before any route runs.
"""

from __future__ import annotations

import json
import logging
from urllib.parse import parse_qs

import anyio.to_thread
import redis
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from wharf.platform.metering.buckets import Kind, RateLimiter, Verdict
from wharf.platform.metering.identity import Owner, TokenOwners
from wharf.platform.web.deps import token_from_header

logger = logging.getLogger(__name__)


def request_kind(path: str, query_string: bytes) -> Kind | None:
    """Which limit a request counts against; None: not metered (dashboard, top-level /health)."""
    if path.startswith("/git/"):
        return "git"
    if not path.startswith("/api/"):
        return None
    if path.startswith("/api/apps/") and path.endswith("/logs"):
        tail = parse_qs(query_string.decode(errors="replace")).get("tail", [""])[-1]
        if tail.lower() in ("1", "true", "yes", "on"):
            return "logs"
    return "api"


def limit_headers(verdict: Verdict) -> list[tuple[bytes, bytes]]:
    headers = [
        (b"ratelimit-limit", str(verdict.limit).encode()),
        (b"ratelimit-remaining", str(verdict.remaining).encode()),
        (b"ratelimit-reset", str(verdict.reset).encode()),
        (b"ratelimit-policy", f"{verdict.limit};w={verdict.window}".encode()),
    ]
    if not verdict.allowed:
        headers.append((b"retry-after", str(verdict.retry_after).encode()))
    return headers


class RateLimitMiddleware:
    def __init__(self, app: ASGIApp, *, limiter: RateLimiter, owners: TokenOwners) -> None:
        self.app = app
        self.limiter = limiter
        self.owners = owners

    async def _owner(self, scope: Scope) -> Owner | None:
        raw = dict(scope["headers"]).get(b"authorization")
        secret = token_from_header(raw.decode(errors="replace") if raw else None)
        if secret is None:
            return None
        found, owner = self.owners.cached(secret)
        if found:
            return owner
        return await anyio.to_thread.run_sync(self.owners.lookup, secret)

    async def _verdict(self, scope: Scope, kind: Kind) -> Verdict | None:
        owner = await self._owner(scope)
        address = scope["client"][0] if scope.get("client") else "unknown"
        try:
            return await self.limiter.spend_async(
                kind,
                user_id=owner[0] if owner else None,
                token_id=owner[1] if owner else None,
                address=address,
            )
        except redis.RedisError:
            logger.exception("rate limits unavailable: the request passes unmetered")
            return None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind = (
            request_kind(scope["path"], scope.get("query_string", b"")) if scope["type"] == "http" else None
        )
        verdict = await self._verdict(scope, kind) if kind is not None else None
        if verdict is None:
            await self.app(scope, receive, send)
            return
        headers = limit_headers(verdict)
        if not verdict.allowed:
            await _refuse(send, kind or "api", verdict, headers)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []), *headers]
            await send(message)

        await self.app(scope, receive, send_with_headers)


WHAT = {"api": "API calls", "git": "git requests", "logs": "log tails"}


async def _refuse(send: Send, kind: Kind, verdict: Verdict, headers: list[tuple[bytes, bytes]]) -> None:
    body = json.dumps(
        {
            "id": "rate_limited",
            "message": f"Too many {WHAT[kind]}: the limit is {verdict.limit} per {verdict.window} seconds, "
            "refilled continuously. "
            f"Retry in {verdict.retry_after} seconds.",
        }
    ).encode()
    await send(
        {
            "type": "http.response.start",
            "status": 429,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                *headers,
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})
