"""An app's log as server-sent events, for the API and the dashboard alike.

The newest lines come first, then (with `tail=1`) every new one.

Each event is `id: <stream id>` and `data: {"id", "app", "ts", "source", "dyno", "line"}`; a
reconnecting EventSource sends `Last-Event-ID` and continues after that line. A comment line every
15 seconds of silence keeps proxies from closing the connection.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

import redis
import redis.asyncio
from fastapi.responses import StreamingResponse

from wharf.platform.errors import BadRequest
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


def sse_event(entry: LogLine) -> str:
    return f"id: {entry.id}\ndata: {json.dumps(entry.to_json())}\n\n"


async def _tail(
    redis_url: str, app: str, after: str, source: str | None, dyno: str | None
) -> AsyncIterator[str]:
    client = redis.asyncio.Redis.from_url(redis_url)
    silent_ms = 0
    try:
        while True:
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
    finally:
        await client.aclose()  # type: ignore[attr-defined]  # (redis>=5; the stubs predate it)


def log_event_stream(
    *,
    client: redis.Redis[bytes],
    redis_url: str,
    app_name: str,
    num: int,
    tail: bool,
    source: str | None,
    dyno: str | None,
    last_event_id: str | None,
) -> StreamingResponse:
    if source is not None and source not in SOURCES:
        raise BadRequest(f"Unknown source {source}: use one of {', '.join(SOURCES)}.", error_id="bad_source")
    if last_event_id:
        backlog: list[LogLine] = []
        after = last_event_id
    else:
        after = last_id(client, app_name)
        backlog = (
            recent_lines(client, app_name, num=num, source=source, dyno=dyno, until=after) if num else []
        )

    async def events() -> AsyncIterator[str]:
        for entry in backlog:
            yield sse_event(entry)
        if tail:
            async for event in _tail(redis_url, app_name, after, source, dyno):
                yield event

    headers = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
    return StreamingResponse(events(), media_type="text/event-stream", headers=headers)
