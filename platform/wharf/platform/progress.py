"""Build and deploy progress as Redis streams, written by the worker and scheduler, followed by `git push`.

Both streams have the same shape: `line` entries, then one `end` entry with the outcome, so a follower
prints each phase as it happens and knows when to stop. Builds and the scheduler both depend on this
module, and it depends on neither of them.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass

import redis

from wharf.platform.textlines import MAX_LINE_CHARS, truncate_line

STREAM_TTL_SECONDS = 24 * 3600
# A build or deploy stream keeps about this many entries (Redis trims whole nodes, so approximately):
# with lines cut at MAX_LINE_CHARS, one stream stays under about 100 MB however much a build prints.
MAX_STREAM_ENTRIES = 10_000
# Each blocking read waits at most this long: redis-py closes a read that outlasts its socket timeout
# (five seconds by default), so a long wait is made of short ones.
BLOCK_SLICE_MS = 2000


@dataclass(frozen=True)
class BuildEnd:
    """The outcome that ends a build's or a deploy's stream."""

    status: str
    release_version: int | None
    message: str


def stream_key(build_id: int) -> str:
    return f"wharf:build:{build_id}:output"


def deploy_stream_key(app_name: str, version: int) -> str:
    return f"wharf:deploy:{app_name}:v{version}:output"


def append_entry(client: redis.Redis[bytes], key: str, fields: dict[str, bytes]) -> None:
    """Add one entry (the stream capped at MAX_STREAM_ENTRIES) and push its expiry back.

    A follower that falls more than the cap behind skips what was trimmed; the `end` entry is always last.
    """
    client.xadd(key, fields, maxlen=MAX_STREAM_ENTRIES, approximate=True)
    client.expire(key, STREAM_TTL_SECONDS)


def line_fields(line: str) -> dict[str, bytes]:
    """One output line as a stream entry, cut with a marker when longer than MAX_LINE_CHARS."""
    return {"line": truncate_line(line, MAX_LINE_CHARS).encode(errors="replace")}


def end_fields(end: BuildEnd) -> dict[str, bytes]:
    return {
        "end": end.status.encode(),
        "release": str(end.release_version or "").encode(),
        "message": truncate_line(end.message, MAX_LINE_CHARS).encode(errors="replace"),
    }


class DeployOutput:
    """The writing end of one release's deploy stream."""

    def __init__(self, client: redis.Redis[bytes], app_name: str, version: int) -> None:
        self._redis = client
        self._key = deploy_stream_key(app_name, version)
        self.version = version

    def write(self, line: str) -> None:
        append_entry(self._redis, self._key, line_fields(line))

    def finish(self, status: str, message: str) -> None:
        end = BuildEnd(status=status, release_version=self.version, message=message)
        append_entry(self._redis, self._key, end_fields(end))


def forget_deploy_output(client: redis.Redis[bytes], app_name: str, version: int) -> None:
    """Drop a stale stream (a database reset can reuse a version) before the release exists."""
    client.delete(deploy_stream_key(app_name, version))


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
    """Yield each build output line as it is written, then the BuildEnd; from the start of the stream."""
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


def follow_deploy(
    client: redis.Redis[bytes], app_name: str, version: int, *, idle_timeout: float = 900
) -> Iterator[str | BuildEnd]:
    """Yield each line of the release's deploy as it is written, then its outcome."""
    for fields in follow_stream(client, deploy_stream_key(app_name, version), idle_timeout=idle_timeout):
        if fields is None:
            yield BuildEnd(
                status="failed",
                release_version=version,
                message="The deploy stopped reporting progress; is `wharfd scheduler` running?",
            )
            return
        if b"end" in fields:
            yield BuildEnd(
                status=fields[b"end"].decode(),
                release_version=version,
                message=fields.get(b"message", b"").decode(),
            )
            return
        yield fields[b"line"].decode(errors="replace")
