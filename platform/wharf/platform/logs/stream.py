"""One Redis stream per app holds its log: dyno output, router lines, build output and platform events.

Entries are `{"ts", "source", "dyno", "line"}`. The stream is bounded by count on every write
(`XADD MAXLEN ~`) and by age (`XTRIM MINID`, at most once a minute per app and by the shipper's
sweep), so an app that logs heavily cannot fill Redis, while its log outlives deploys, dyno
restarts and restarts of Wharf (Redis persists it).

This module needs only `redis` and the standard library, so the router process can write its
lines with `router_log_sink(redis_url)` without loading the rest of the platform.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import redis

from wharf.platform.textlines import MAX_LINE_CHARS, truncate_line

logger = logging.getLogger(__name__)

KEY_PREFIX = "wharf:logs:"
DEFAULT_MAX_LINES = 10_000
DEFAULT_MAX_AGE_HOURS = 168
AGE_TRIM_INTERVAL_SECONDS = 60.0
# Sources a user may filter on; "heroku" marks the platform's own notes (dyno state, drain errors).
SOURCES = ("app", "router", "api", "build", "heroku")
# How each source is rendered before the bracket: Heroku shows router and platform lines as heroku[...].
ORIGIN = {"app": "app", "router": "heroku", "api": "app", "build": "app", "heroku": "heroku"}


# Appends entries given as (ts, source, dyno, line) groups after ARGV[1], the MAXLEN bound.
APPEND_SCRIPT = """
for i = 2, #ARGV, 4 do
  redis.call('XADD', KEYS[1], 'MAXLEN', '~', ARGV[1], '*',
             'ts', ARGV[i], 'source', ARGV[i + 1], 'dyno', ARGV[i + 2], 'line', ARGV[i + 3])
end
return (#ARGV - 1) / 4
"""


def stream_key(app: str) -> str:
    return f"{KEY_PREFIX}{app}"


def app_from_key(key: str) -> str:
    return key.removeprefix(KEY_PREFIX)


def now_iso() -> str:
    """The current time as every entry's `ts`: ISO 8601 UTC with microseconds."""
    return datetime.now(UTC).isoformat(timespec="microseconds")


@dataclass(frozen=True)
class LogLine:
    """One entry of an app's log. `id` is the Redis stream id (empty before it is stored)."""

    app: str
    ts: str
    source: str
    dyno: str
    line: str
    id: str = ""

    @property
    def process(self) -> str:
        """`app[web.1]`, `heroku[router]`: who said it, as Heroku prints it."""
        return f"{ORIGIN.get(self.source, self.source)}[{self.dyno}]"

    def render(self) -> str:
        """`2026-11-27T18:00:00.123456+00:00 app[web.1]: listening on 5000`."""
        return f"{self.ts} {self.process}: {self.line}"

    def fields(self) -> dict[str, str]:
        return {"ts": self.ts, "source": self.source, "dyno": self.dyno, "line": self.line}

    def to_json(self) -> dict[str, str]:
        return {"id": self.id, "app": self.app, **self.fields()}

    def matches(self, source: str | None, dyno: str | None) -> bool:
        """The `--source` and `--dyno` filters; `--dyno web` matches every web dyno, as on Heroku."""
        if source is not None and self.source != source:
            return False
        if dyno is None:
            return True
        return self.dyno == dyno or self.dyno.split(".", 1)[0] == dyno


def clean_line(text: str) -> str:
    """One line of text: no trailing newline or carriage return, cut (with a marker) at MAX_LINE_CHARS."""
    return truncate_line(text.rstrip("\r\n"), MAX_LINE_CHARS)


def entry_from_fields(app: str, entry_id: bytes | str, fields: dict[bytes, bytes]) -> LogLine:
    def text(name: bytes) -> str:
        return fields.get(name, b"").decode("utf-8", "replace")

    identifier = entry_id.decode() if isinstance(entry_id, bytes) else entry_id
    return LogLine(
        app=app, ts=text(b"ts"), source=text(b"source"), dyno=text(b"dyno"), line=text(b"line"), id=identifier
    )


class LogWriter:
    """Appends lines to app streams with retention applied; `write_many` costs one round trip."""

    def __init__(
        self,
        client: redis.Redis[bytes],
        *,
        max_lines: int = DEFAULT_MAX_LINES,
        max_age_hours: float = DEFAULT_MAX_AGE_HOURS,
    ) -> None:
        self.client = client
        self.max_lines = max_lines
        self.max_age_hours = max_age_hours
        self._age_trimmed_at: dict[str, float] = {}
        self._append = client.register_script(APPEND_SCRIPT)

    def write(self, app: str, *, source: str, dyno: str, line: str, ts: str | None = None) -> None:
        self.write_many(
            [LogLine(app=app, ts=ts or now_iso(), source=source, dyno=dyno, line=clean_line(line))]
        )

    def write_many(self, lines: Iterable[LogLine], extra: Callable[[Any], None] | None = None) -> None:
        """Store `lines` in order; `extra(pipeline)` adds commands to the same MULTI/EXEC (a cursor).

        Each app's lines go in one script call rather than one XADD each: the client's cost per
        command, not Redis, is what limits a shipper at 10,000 lines/s.
        """
        per_app: dict[str, list[str | int]] = {}
        for entry in lines:
            args = per_app.setdefault(entry.app, [self.max_lines])
            args.extend((entry.ts, entry.source, entry.dyno, entry.line))
        pipeline = self.client.pipeline(transaction=True)
        for app, args in per_app.items():
            self._append(keys=[stream_key(app)], args=args, client=pipeline)
        if extra is not None:
            extra(pipeline)
        for app in per_app:
            self._schedule_age_trim(pipeline, app)
        pipeline.execute()

    def _schedule_age_trim(self, pipeline: Any, app: str) -> None:
        now = time.monotonic()
        if now - self._age_trimmed_at.get(app, -AGE_TRIM_INTERVAL_SECONDS) < AGE_TRIM_INTERVAL_SECONDS:
            return
        self._age_trimmed_at[app] = now
        pipeline.xtrim(stream_key(app), minid=age_cutoff_id(self.max_age_hours), approximate=False)


def age_cutoff_id(max_age_hours: float, now: float | None = None) -> str:
    """The stream id before which entries are older than `max_age_hours` (ids start with a ms time)."""
    moment = time.time() if now is None else now
    return f"{int((moment - max_age_hours * 3600) * 1000)}-0"


def trim_by_age(client: redis.Redis[bytes], app: str, max_age_hours: float) -> int:
    """Drop entries older than `max_age_hours` (exactly: it runs rarely); returns how many went."""
    removed: int = client.xtrim(stream_key(app), minid=age_cutoff_id(max_age_hours), approximate=False)
    return removed


def sweep_old_lines(client: redis.Redis[bytes], max_age_hours: float) -> int:
    """Apply the age limit to every app's stream, including apps that no longer write."""
    removed = 0
    for key in client.scan_iter(match=f"{KEY_PREFIX}*", count=500):
        removed += trim_by_age(client, app_from_key(key.decode()), max_age_hours)
    return removed


def recent_lines(
    client: redis.Redis[bytes],
    app: str,
    *,
    num: int = 100,
    source: str | None = None,
    dyno: str | None = None,
    until: str = "+",
    chunk: int = 500,
) -> list[LogLine]:
    """The newest `num` lines up to id `until` that pass the filters, oldest first."""
    found: list[LogLine] = []
    upper = until
    while len(found) < num:
        batch = client.xrevrange(stream_key(app), max=upper, min="-", count=chunk)
        for entry_id, fields in batch:
            entry = entry_from_fields(app, entry_id, fields)
            if entry.matches(source, dyno):
                found.append(entry)
                if len(found) == num:
                    break
        if len(batch) < chunk:
            break
        upper = "(" + batch[-1][0].decode()
    found.reverse()
    return found


def last_id(client: redis.Redis[bytes], app: str) -> str:
    """The id of the newest entry, or "0-0" for an empty log: where a live tail starts."""
    newest = client.xrevrange(stream_key(app), count=1)
    return newest[0][0].decode() if newest else "0-0"


def read_after(
    client: redis.Redis[bytes], app: str, after: str, *, block_ms: int | None, count: int = 1000
) -> list[LogLine]:
    """Lines stored after id `after`, waiting up to `block_ms` for the first one (None: no wait)."""
    answer = client.xread({stream_key(app): after}, block=block_ms, count=count)
    if not answer:
        return []
    return [entry_from_fields(app, entry_id, fields) for entry_id, fields in answer[0][1]]


def follow(
    client: redis.Redis[bytes], app: str, *, after: str = "$", block_ms: int = 1000
) -> Iterator[list[LogLine]]:
    """Yield batches of new lines forever (an empty batch each `block_ms` of silence)."""
    position = last_id(client, app) if after == "$" else after
    while True:
        batch = read_after(client, app, position, block_ms=block_ms)
        if batch:
            position = batch[-1].id
        yield batch


class BatchingSink:
    """A `(app, line)` sink that never blocks its caller: lines are buffered and written in batches.

    The buffer is bounded (the oldest lines go first when Redis stays away), and a daemon thread
    flushes it every `interval` seconds, so a busy router pays for one Redis round trip per batch.
    """

    def __init__(
        self, writer: LogWriter, *, source: str, dyno: str, capacity: int = 50_000, interval: float = 0.1
    ) -> None:
        self.writer = writer
        self.source = source
        self.dyno = dyno
        self.interval = interval
        self._buffer: deque[LogLine] = deque(maxlen=capacity)
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._run, name=f"log-sink-{source}", daemon=True)
        self._thread.start()

    def __call__(self, app: str, line: str) -> None:
        entry = LogLine(app=app, ts=now_iso(), source=self.source, dyno=self.dyno, line=clean_line(line))
        with self._lock:
            self._buffer.append(entry)

    def flush(self) -> None:
        with self._lock:
            batch = list(self._buffer)
            self._buffer.clear()
        if not batch:
            return
        try:
            self.writer.write_many(batch)
        except redis.RedisError:
            with self._lock:
                self._buffer.extendleft(reversed(batch))
            raise

    def _run(self) -> None:
        while True:
            time.sleep(self.interval)
            try:
                self.flush()
            except redis.RedisError:
                logger.warning("cannot write log lines to Redis; keeping them buffered", exc_info=True)
                time.sleep(1.0)


def router_log_sink(
    redis_url: str, *, max_lines: int = DEFAULT_MAX_LINES, max_age_hours: float = DEFAULT_MAX_AGE_HOURS
) -> BatchingSink:
    """A sink for `wharf.router`: `run_router(..., log_sink=router_log_sink(redis_url))`.

    Each `(app, line)` becomes a `heroku[router]` line of the app's log.
    """
    client = redis.Redis.from_url(redis_url, socket_timeout=5)
    writer = LogWriter(client, max_lines=max_lines, max_age_hours=max_age_hours)
    return BatchingSink(writer, source="router", dyno="router")
