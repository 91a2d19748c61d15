"""Docker's container events, read in windows that leave nothing out.

The shipper reads events in windows (`since`..`until`) between its resyncs. Each window starts where the
last one ended, less an overlap: Docker drops an event published just before a window's `until` fires
but not yet sent, and the next window replays it from the daemon's buffer. Events seen twice in the
overlap are handled once. The point reached is kept in Redis, so a restarted shipper replays what
happened while it was away (at most REPLAY_SECONDS of it: the daemon keeps only its recent events).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import redis

OVERLAP_NS = 1_000_000_000
REPLAY_SECONDS = 300


def docker_time(nanoseconds: int) -> str:
    """A Unix time in nanoseconds as Docker's `since`/`until` argument, `seconds.nanoseconds`."""
    return f"{nanoseconds // 1_000_000_000}.{nanoseconds % 1_000_000_000:09d}"


def event_iso(event: dict[str, Any]) -> str:
    """When the event happened, as the log stream's ISO 8601 UTC time with microseconds."""
    nanoseconds = int(event.get("timeNano") or int(event.get("time") or 0) * 1_000_000_000)
    return datetime.fromtimestamp(nanoseconds / 1e9, UTC).isoformat(timespec="microseconds")


def _identity(event: dict[str, Any]) -> tuple[int, str, str]:
    return (
        int(event.get("timeNano") or 0),
        str(event.get("Actor", {}).get("ID", "")),
        str(event.get("Action")),
    )


class EventWindows:
    """Successive windows of one engine's container events matching `filters`, each event once."""

    def __init__(
        self, docker_api: Any, client: redis.Redis[bytes], key: str, filters: dict[str, Any]
    ) -> None:
        self.api = docker_api
        self.redis = client
        self.key = key
        self.filters = filters
        self._since: int | None = None
        self._handled_up_to = 0
        self._handled: set[tuple[int, str, str]] = set()

    def _start(self) -> int:
        """Just after the last event handled here, at most REPLAY_SECONDS back; now on a first start."""
        now = time.time_ns()
        stored = self.redis.get(self.key)
        if stored is None:
            return now
        return max(int(stored), now - REPLAY_SECONDS * 1_000_000_000)

    def read(self, seconds: float) -> Iterator[dict[str, Any]]:
        """The events of the next window, which lasts until `seconds` from now; an event counts as
        handled once the caller asks for the next one (an error in between leaves it for a replay)."""
        since = self._since if self._since is not None else self._start()
        until = max(time.time_ns(), since) + int(seconds * 1e9)
        stream = self.api.events(
            since=docker_time(since), until=docker_time(until), filters=self.filters, decode=True
        )
        try:
            for event in stream:
                identity = _identity(event)
                if identity in self._handled:
                    continue
                yield event
                self._handled.add(identity)
                self._handled_up_to = max(self._handled_up_to, identity[0] + 1)
                self.redis.set(self.key, str(self._handled_up_to))
        finally:
            stream.close()
            self._since = since
        self._since = max(since, until - OVERLAP_NS)
        self._handled = {identity for identity in self._handled if identity[0] >= self._since}
        self.redis.set(self.key, str(max(self._handled_up_to, self._since)))
