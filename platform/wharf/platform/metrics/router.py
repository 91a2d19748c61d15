"""Router metrics from the router's log lines, counted in the sink that already receives each line.

`MeteredSink` wraps the router's log sink: every `(app, line)` it passes on is also counted for the
app's process type and minute (requests by status class, a timing histogram of `service=`, the
summed service time, bytes, H-codes), one tailer read's batch at a time (`RouterMetrics.observe_many`,
one lock per batch).
Reading the few fields costs a handful of string operations per distinct line tail: the fields after
the last ` dyno=` come last and in a fixed order, written by nginx, so no user-supplied text is parsed.
Counts stay in plain attributes until the flush thread turns them into store deltas every few seconds.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import Counter
from collections.abc import Sequence

import redis

from wharf.platform.metrics.histogram import bucket_of
from wharf.platform.metrics.store import Delta, MetricsStore, minute_of
from wharf.router.logs import RouterLogSink, deliver_records

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
    __slots__ = ("busy_ms", "bytes", "codes", "hist", "requests", "status", "tmax")

    def __init__(self) -> None:
        self.requests = 0
        self.bytes = 0
        self.busy_ms = 0
        self.tmax = -1
        self.status: dict[str, int] = {}
        self.codes: dict[str, int] = {}
        self.hist: dict[int, int] = {}

    def merge(self, other: _Minute) -> None:
        """Add another count of the same app, process type and minute into this one."""
        self.requests += other.requests
        self.bytes += other.bytes
        self.busy_ms += other.busy_ms
        self.tmax = max(self.tmax, other.tmax)
        for counts, more in ((self.status, other.status), (self.codes, other.codes)):
            for name, count in more.items():
                counts[name] = counts.get(name, 0) + count
        for bucket, count in other.hist.items():
            self.hist[bucket] = self.hist.get(bucket, 0) + count


_CODED = ("at=error code=", "at=info code=")


def _tail_fields(tail: str) -> tuple[str, int, str, int] | None:
    """(process type, service ms or -1, status digit, bytes) from a line's ` dyno=...` tail, or None.

    The tail holds the last six fields, in nginx's order: dyno= connect= service= status= bytes=
    protocol=; no user-supplied text comes after the last ` dyno=`.
    """
    parts = tail.split(" ")
    if len(parts) != 7:
        return None
    dyno, service, status, size = parts[1], parts[3], parts[4], parts[5]
    if dyno[:5] != "dyno=" or service[:8] != "service=" or size[:6] != "bytes=":
        return None
    try:
        ms = int(service[8:-2]) if len(service) > 10 else -1
        nbytes = int(size[6:])
    except ValueError:
        return None
    return dyno[5:].partition(".")[0] or "web", ms, status[7:8], nbytes


def _count_code(counted: dict[tuple[str, str, int], _Minute], app: str, line: str, start: int) -> None:
    """Count the H-code of a line that has one, when its tail was counted as a request."""
    fields = _tail_fields(line[line.rfind(" dyno=") :])
    offset = 14 if line[3] == "e" else 13
    code = line[offset : line.find(" ", offset)]
    minute = counted.get((app, fields[0], start)) if fields is not None else None
    if code and minute is not None:
        minute.codes[code] = minute.codes.get(code, 0) + 1


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
        """Count one router line (sinks that deliver lines one at a time)."""
        self.observe_many(((app, line),), now)

    def observe_many(self, lines: Sequence[tuple[str, str]], now: float | None = None) -> None:
        """Count one read's worth of `(app, line)` pairs: parsed without the lock, merged under it once.

        Lines with the same tail (dyno, timings, status, bytes) are read once and counted by their
        number, which a busy app's lines share often; H-codes come from the few lines that carry one.
        """
        stamp = time.time() if now is None else now
        start = int(stamp) - int(stamp) % 60
        counted: dict[tuple[str, str, int], _Minute] = {}
        tails = Counter((app, line[line.rfind(" dyno=") :]) for app, line in lines)
        for (app, tail), count in tails.items():
            fields = _tail_fields(tail)
            if fields is None:
                continue
            process_type, ms, digit, nbytes = fields
            key = (app, process_type, start)
            minute = counted.get(key)
            if minute is None:
                minute = counted[key] = _Minute()
            minute.requests += count
            minute.bytes += nbytes * count
            minute.status[digit] = minute.status.get(digit, 0) + count
            if ms >= 0:
                bucket = _BUCKETS[ms] if ms < 10_000 else bucket_of(ms)
                minute.hist[bucket] = minute.hist.get(bucket, 0) + count
                minute.busy_ms += ms * count
                if ms > minute.tmax:
                    minute.tmax = ms
        for app, line in lines:
            if line.startswith(_CODED):
                _count_code(counted, app, line, start)
        if not counted:
            return
        with self._lock:
            for key, minute in counted.items():
                held = self._open.get(key)
                if held is None:
                    if len(self._open) < MAX_OPEN_MINUTES:
                        self._open[key] = minute
                else:
                    held.merge(minute)

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
            delta.add[prefix + "busy_ms"] += minute.busy_ms
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
    """A router log sink that also counts each line into router metrics, a read's batch at a time."""

    def __init__(self, inner: RouterLogSink, metrics: RouterMetrics) -> None:
        self.inner = inner
        self.metrics = metrics

    def __call__(self, app: str, line: str) -> None:
        self.inner(app, line)
        self.metrics.observe(app, line)

    def deliver_many(self, records: Sequence[tuple[str, str]]) -> None:
        deliver_records(self.inner, records)
        self.metrics.observe_many(records)
