"""Pools for requests that last: attached `wharf run` sessions and long add-on operations.

The API runs every synchronous route on one shared pool of 40 threads. A request that lasts (a
terminal session, a psql statement, a backup) must never sit on one of them, or a few dozen such
requests freeze every other route. Each kind of lasting request gets a `SessionPool` instead: a cap
per user and a cap overall (both operator settings), and a small pool of threads of its own for
the blocking calls it makes. Waiting itself is done by the event loop and holds no thread.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TypeVar

import anyio
import anyio.to_thread

from wharf.platform.errors import TooManyRequests, WharfError

T = TypeVar("T")
RETRY_AFTER_SECONDS = 10


class ServiceBusy(WharfError):
    status_code = 503
    error_id = "busy"


@dataclass(frozen=True)
class PoolLimits:
    """How many sessions of one kind run at once, and the settings an operator raises them with."""

    what: str
    per_user: int
    total: int
    threads: int
    per_user_setting: str
    total_setting: str
    hint: str = ""


@dataclass
class SessionPool:
    limits: PoolLimits
    _open: dict[int, int] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _limiter: anyio.CapacityLimiter | None = None

    @property
    def open_sessions(self) -> int:
        with self._lock:
            return sum(self._open.values())

    def open_for(self, user_id: int) -> int:
        with self._lock:
            return self._open.get(user_id, 0)

    @contextmanager
    def slot(self, user_id: int) -> Iterator[None]:
        """Hold one of the user's sessions for the block; refused with 429 or 503 beyond the caps."""
        self._acquire(user_id)
        try:
            yield
        finally:
            self._release(user_id)

    async def run(self, function: Callable[..., T], *args: object) -> T:
        """Run a blocking call on this pool's own threads, never on the request threads."""
        if self._limiter is None:
            self._limiter = anyio.CapacityLimiter(self.limits.threads)
        return await anyio.to_thread.run_sync(function, *args, limiter=self._limiter)

    def _acquire(self, user_id: int) -> None:
        limits = self.limits
        with self._lock:
            mine = self._open.get(user_id, 0)
            if mine >= limits.per_user:
                raise TooManyRequests(
                    f"You already have {mine} {limits.what} open, the most one user may "
                    f"({limits.per_user_setting}={limits.per_user}). End one first{limits.hint}.",
                    retry_after=RETRY_AFTER_SECONDS,
                    error_id="too_many_sessions",
                )
            if sum(self._open.values()) >= limits.total:
                raise ServiceBusy(
                    f"Wharf is serving its maximum of {limits.total} {limits.what} "
                    f"({limits.total_setting}={limits.total}). Try again in a minute{limits.hint}.",
                    error_id="sessions_full",
                )
            self._open[user_id] = mine + 1

    def _release(self, user_id: int) -> None:
        with self._lock:
            left = self._open.get(user_id, 0) - 1
            if left > 0:
                self._open[user_id] = left
            else:
                self._open.pop(user_id, None)
