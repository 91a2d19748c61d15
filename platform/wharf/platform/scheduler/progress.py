"""Deploy output as a Redis stream per release, followed by `git push` after the build's own stream.

Entries are `line` entries, then one `end` entry with the outcome (the same shape as build output),
so a follower prints the release phase and the launch as they happen and knows when to stop.
"""

from __future__ import annotations

from collections.abc import Iterator

import redis

from wharf.platform.builds.output import BuildEnd, follow_stream

STREAM_TTL_SECONDS = 24 * 3600


def deploy_stream_key(app_name: str, version: int) -> str:
    return f"wharf:deploy:{app_name}:v{version}:output"


class DeployOutput:
    def __init__(self, client: redis.Redis[bytes], app_name: str, version: int) -> None:
        self._redis = client
        self._key = deploy_stream_key(app_name, version)
        self.version = version

    def write(self, line: str) -> None:
        self._redis.xadd(self._key, {"line": line.encode()})
        self._redis.expire(self._key, STREAM_TTL_SECONDS)

    def finish(self, status: str, message: str) -> None:
        fields = {"end": status.encode(), "release": str(self.version).encode(), "message": message.encode()}
        self._redis.xadd(self._key, fields)
        self._redis.expire(self._key, STREAM_TTL_SECONDS)


def forget_deploy_output(client: redis.Redis[bytes], app_name: str, version: int) -> None:
    """Drop a stale stream (a database reset can reuse a version) before the release exists."""
    client.delete(deploy_stream_key(app_name, version))


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
