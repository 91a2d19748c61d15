"""Router metrics from the router's log lines, counted in the sink that already receives each line.

`MeteredSink` wraps the router's log sink: every `(app, line)` it passes on is also counted for the
app's process type and minute (requests by status class, a timing histogram of `service=`, bytes,
H-codes). Reading the few fields costs a handful of string operations per line: the fields after
the last ` dyno=` come last and in a fixed order, written by nginx, so no user-supplied text is parsed.
Counts stay in plain attributes until the flush thread turns them into store deltas every few seconds.
"""

from __future__ import annotations

import logging
import threading
import time

import redis

from wharf.platform.metrics.histogram import bucket_of
from wharf.platform.metrics.store import Delta, MetricsStore, minute_of
from wharf.router.logs import RouterLogSink

logger = logging.getLogger(__name__)

STATUS_FIELDS = {"2": "2xx", "3": "3xx", "4": "4xx", "5": "5xx"}
# Bucket indexes of the first ten seconds, one per millisecond, looked up instead of computed.
_BUCKETS = [bucket_of(ms) for ms in range(10_000)]
# Minutes with traffic held between flushes (apps x process types x minutes); more are dropped.
MAX_OPEN_MINUTES = 10_000


class RouterLine:
    """The fields metrics need from one router line, or None from `parse`."""

    __slots__ = ("bytes", "code", "process_type", "service_ms", "status")

    def __init__(self, process_type: str, code: str, service_ms: int | None, status: str, size: int) -> None:
        self.process_type = process_type
        self.code = code
        self.service_ms = service_ms
        self.status = status
        self.bytes = size

    @classmethod
    def parse(cls, line: str) -> RouterLine | None:
        """The same reading `RouterMetrics.observe` does inline, as an object (for tools and tests)."""
        parts = line.rsplit(" ", 6)
        if (
            len(parts) < 7
            or parts[1][:5] != "dyno="
            or parts[3][:8] != "service="
            or parts[5][:6] != "bytes="
        ):
            return None
        dyno, service, status, size = parts[1], parts[3], parts[4], parts[5]
        try:
            service_ms = int(service[8:-2]) if len(service) > 10 else None
            nbytes = int(size[6:])
        except ValueError:
            return None
        code = ""
        if line.startswith("at=error code="):
            code = line[14 : line.find(" ", 14)]
        elif line.startswith("at=info code="):
            code = line[13 : line.find(" ", 13)]
        return cls(dyno[5:].partition(".")[0] or "web", code, service_ms, status[7:], nbytes)


class _Minute:
    __slots__ = ("bytes", "codes", "hist", "requests", "status", "tmax")

    def __init__(self) -> None:
        self.requests = 0
        self.bytes = 0
        self.tmax = -1
        self.status: dict[str, int] = {}
        self.codes: dict[str, int] = {}
        self.hist: dict[int, int] = {}


class RouterMetrics:
    """Counts router lines per app, process type and minute; `start()` flushes them every few seconds."""

    def __init__(self, store: MetricsStore, *, interval: float = 5.0) -> None:
        self.store = store
        self.interval = interval
        self._open: dict[tuple[str, str, int], _Minute] = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def observe(self, app: str, line: str, now: float | None = None) -> None:
        # The last six fields, in nginx's order: dyno= connect= service= status= bytes= protocol=.
        parts = line.rsplit(" ", 6)
        if len(parts) < 7:
            return
        dyno, service, status, size = parts[1], parts[3], parts[4], parts[5]
        if dyno[:5] != "dyno=" or service[:8] != "service=" or size[:6] != "bytes=":
            return
        try:
            ms = int(service[8:-2]) if len(service) > 10 else -1
            nbytes = int(size[6:])
        except ValueError:
            return
        stamp = time.time() if now is None else now
        key = (app, dyno[5:].partition(".")[0] or "web", int(stamp) - int(stamp) % 60)
        code = ""
        if line[3] == "e" and line.startswith("at=error code="):
            code = line[14 : line.find(" ", 14)]
        elif line[8] == "c" and line.startswith("at=info code="):
            code = line[13 : line.find(" ", 13)]
        with self._lock:
            minute = self._open.get(key)
            if minute is None:
                if len(self._open) >= MAX_OPEN_MINUTES:
                    return
                minute = self._open[key] = _Minute()
            minute.requests += 1
            minute.bytes += nbytes
            digit = status[7:8]
            minute.status[digit] = minute.status.get(digit, 0) + 1
            if code:
                minute.codes[code] = minute.codes.get(code, 0) + 1
            if ms >= 0:
                bucket = _BUCKETS[ms] if ms < 10_000 else bucket_of(ms)
                minute.hist[bucket] = minute.hist.get(bucket, 0) + 1
                if ms > minute.tmax:
                    minute.tmax = ms

    def deltas(self) -> list[Delta]:
        """Take what was counted since the last call, as store deltas."""
        with self._lock:
            taken, self._open = self._open, {}
        merged: dict[tuple[str, int], Delta] = {}
        for (app, process_type, start), minute in taken.items():
            delta = merged.get((app, start))
            if delta is None:
                delta = merged[(app, start)] = Delta(app, minute_of(start))
            prefix = f"p|{process_type}|"
            delta.add[prefix + "req"] += minute.requests
            delta.add[prefix + "bytes"] += minute.bytes
            for digit, count in minute.status.items():
                if digit in STATUS_FIELDS:
                    delta.add[prefix + STATUS_FIELDS[digit]] += count
            for code, count in minute.codes.items():
                delta.add[f"{prefix}h|{code}"] += count
            for bucket, count in minute.hist.items():
                delta.add[f"{prefix}t|{bucket}"] += count
            if minute.tmax >= 0:
                delta.top(prefix + "tmax", float(minute.tmax))
        return list(merged.values())

    def flush(self) -> None:
        deltas = self.deltas()
        if not deltas:
            return
        try:
            self.store.write(deltas)
        except (redis.RedisError, OSError) as error:
            logger.warning("dropped router metrics of %d app minutes, Redis is away: %s", len(deltas), error)

    def start(self) -> None:
        def run() -> None:
            while not self._stop.wait(self.interval):
                self.flush()
            self.flush()

        self._thread = threading.Thread(target=run, name="router-metrics", daemon=True)
        self._thread.start()

    def close(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)


class MeteredSink:
    """A router log sink that also counts each line into router metrics."""

    def __init__(self, inner: RouterLogSink, metrics: RouterMetrics) -> None:
        self.inner = inner
        self.metrics = metrics

    def __call__(self, app: str, line: str) -> None:
        self.inner(app, line)
        self.metrics.observe(app, line)
