"""Admission of HTTP requests to the database: no more at once than the connection pool can serve.

A synchronous route makes several trips to the worker-thread pool (session, token, app, the route, the
commit), holding its database connection between them. With more requests in flight than connections,
every worker thread ends up waiting for a connection while the requests that hold the connections wait
for a thread: nothing moves until the pool times out. Requests therefore wait here, on the event loop
and holding nothing, for one of a fixed number of permits below the pool's size. A permit is given back
as soon as the answer starts, which is after the route's session is closed (so a long stream, such as a
log tail, does not keep one).
"""

from __future__ import annotations

import asyncio

from starlette.types import ASGIApp, Message, Receive, Scope, Send


class DatabaseAdmission:
    """Pure ASGI middleware; websockets pass (their sessions run on pools of their own)."""

    def __init__(self, app: ASGIApp, *, permits: int) -> None:
        self.app = app
        self.permits = permits
        self._semaphore: asyncio.Semaphore | None = None

    def _gate(self) -> asyncio.Semaphore:
        if self._semaphore is None:
            self._semaphore = asyncio.Semaphore(self.permits)
        return self._semaphore

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        gate = self._gate()
        await gate.acquire()
        held = True

        def release() -> None:
            nonlocal held
            if held:
                held = False
                gate.release()

        async def send_and_release(message: Message) -> None:
            if message["type"] == "http.response.start":
                release()
            await send(message)

        try:
            await self.app(scope, receive, send_and_release)
        finally:
            release()


def permits_for(pool_capacity: int, *, reserve: int = 6) -> int:
    """Leave a few connections to background work of the API process (lifespan, log tails)."""
    return max(1, pool_capacity - reserve)
