"""Build output as a Redis stream: written line by line by the build, followed live by `git push`.

The stream ends with an `end` entry carrying the build's outcome, so a follower knows when to stop.
Each line also goes to the app's log as `app[build]`, so `wharf logs` shows builds among the rest.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass

import redis

from wharf.platform.db import session_scope
from wharf.platform.logs.platform_lines import log_platform_line
from wharf.platform.models import App, Build
from wharf.platform.settings import get_settings

STREAM_TTL_SECONDS = 24 * 3600


def stream_key(build_id: int) -> str:
    return f"wharf:build:{build_id}:output"


@dataclass(frozen=True)
class BuildEnd:
    status: str
    release_version: int | None
    message: str


class BuildOutput:
    def __init__(self, client: redis.Redis[bytes], build_id: int, app_name: str | None = None) -> None:
        self._redis = client
        self._key = stream_key(build_id)
        self._build_id = build_id
        self._app_name = app_name
        self.lines: list[str] = []

    def write(self, line: str) -> None:
        self.lines.append(line)
        self._redis.xadd(self._key, {"line": line.encode()})
        self._redis.expire(self._key, STREAM_TTL_SECONDS)
        app_name = self._resolve_app_name()
        if app_name:
            log_platform_line(app_name, source="build", dyno="build", line=line)

    def _resolve_app_name(self) -> str | None:
        """The app the build belongs to, looked up once when the caller did not name it."""
        if self._app_name is None:
            self._app_name = app_name_of_build(self._build_id) or ""
        return self._app_name

    def finish(self, end: BuildEnd) -> None:
        fields = {
            "end": end.status.encode(),
            "release": str(end.release_version or "").encode(),
            "message": end.message.encode(),
        }
        self._redis.xadd(self._key, fields)
        self._redis.expire(self._key, STREAM_TTL_SECONDS)


def app_name_of_build(build_id: int) -> str | None:
    with session_scope(get_settings().resolved_database_url) as session:
        build = session.get(Build, build_id)
        app = session.get(App, build.app_id) if build is not None else None
        return app.name if app is not None else None


# Each blocking read waits at most this long: redis-py closes a read that outlasts its socket timeout
# (five seconds by default), so a long wait is made of short ones.
BLOCK_SLICE_MS = 2000


def follow_stream(
    client: redis.Redis[bytes], key: str, *, idle_timeout: float
) -> Iterator[dict[bytes, bytes] | None]:
    """Yield each entry of a stream from its start as it is written; None once idle for IDLE_TIMEOUT."""
    last_id = b"0-0"
    idle_since = time.monotonic()
    while True:
        answer = client.xread({key: last_id}, block=BLOCK_SLICE_MS, count=100)
        if not answer:
            if time.monotonic() - idle_since > idle_timeout:
                yield None
                return
            continue
        idle_since = time.monotonic()
        for entry_id, fields in answer[0][1]:
            last_id = entry_id
            yield fields


def follow(
    client: redis.Redis[bytes], build_id: int, *, idle_timeout: float = 1800
) -> Iterator[str | BuildEnd]:
    """Yield each output line as it is written, then the BuildEnd; from the start of the stream."""
    for fields in follow_stream(client, stream_key(build_id), idle_timeout=idle_timeout):
        if fields is None:
            yield BuildEnd(
                status="failed", release_version=None, message="The build stopped reporting progress."
            )
            return
        if b"end" in fields:
            release = fields.get(b"release", b"").decode()
            yield BuildEnd(
                status=fields[b"end"].decode(),
                release_version=int(release) if release else None,
                message=fields.get(b"message", b"").decode(),
            )
            return
        yield fields[b"line"].decode(errors="replace")
