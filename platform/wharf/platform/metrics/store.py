"""Per-minute metrics in Redis: one hash per app and minute (kept 24 h) and per ten minutes (kept 7 days).

Writers (the router's log sink, the dyno collector, the statsd listener) aggregate in memory and add
their deltas here every few seconds: counters with HINCRBY, maxima with a small script, last values
with HSET. Each write goes to the minute's hash and to its ten-minute hash, so both resolutions are
exact sums and no roll-up job is needed; Redis drops old hashes by their TTL. A hash has at most a
few hundred fields per process type (the histogram buckets) plus the app's bounded statsd series.

Fields: `p|TYPE|NAME` for a process type's router and dyno series, `x|KIND|NAME` for statsd series.
"""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

import redis

from wharf.platform.metrics.histogram import percentile
from wharf.platform.metrics.points import STATUS_CLASSES, MinutePoint

if TYPE_CHECKING:
    from wharf.platform.settings import Settings

KEY_PREFIX = "wharf:metrics"
APPS_KEY = f"{KEY_PREFIX}:apps"
MINUTE = 60
TEN_MINUTES = 600
MINUTE_TTL_SECONDS = 24 * 3600 + 2 * MINUTE
TEN_MINUTE_TTL_SECONDS = 7 * 24 * 3600 + 2 * TEN_MINUTES
MAX_SINCE = timedelta(days=7)

_MAX_SCRIPT = """
for i = 1, #ARGV, 2 do
  local current = tonumber(redis.call('HGET', KEYS[1], ARGV[i]))
  if current == nil or tonumber(ARGV[i + 1]) > current then
    redis.call('HSET', KEYS[1], ARGV[i], ARGV[i + 1])
  end
end
return 0
"""


def resolution(since: timedelta) -> int:
    """The seconds each point of a read `since` ago covers: a minute up to 24 h, ten minutes past it."""
    return MINUTE if since <= timedelta(hours=24) else TEN_MINUTES


def minute_key(app: str, minute: int) -> str:
    return f"{KEY_PREFIX}:{app}:1m:{minute}"


def ten_minute_key(app: str, minute: int) -> str:
    return f"{KEY_PREFIX}:{app}:10m:{minute - minute % TEN_MINUTES}"


@dataclass
class Delta:
    """What one writer adds to one app's minute: counters, maxima and last values by field."""

    app: str
    minute: int
    add: dict[str, float] = field(default_factory=lambda: defaultdict(float))
    maxima: dict[str, float] = field(default_factory=dict)
    last: dict[str, float] = field(default_factory=dict)

    def top(self, name: str, value: float) -> None:
        if value > self.maxima.get(name, float("-inf")):
            self.maxima[name] = value


def minute_of(timestamp: float) -> int:
    return int(timestamp) - int(timestamp) % MINUTE


class MetricsStore:
    """Writes deltas and reads `MinutePoint`s; implements `MetricsReader`."""

    def __init__(self, client: redis.Redis[bytes]) -> None:
        self.client = client
        self._max = client.register_script(_MAX_SCRIPT)

    @classmethod
    def from_settings(cls, settings: Settings) -> MetricsStore:
        return cls(redis.Redis.from_url(settings.resolved_redis_url, socket_timeout=10))

    # writing

    def write(self, deltas: Iterable[Delta]) -> None:
        pipe = self.client.pipeline(transaction=False)
        apps: dict[str | bytes, float] = {}
        for delta in deltas:
            apps[delta.app] = time.time()
            for key, ttl in (
                (minute_key(delta.app, delta.minute), MINUTE_TTL_SECONDS),
                (ten_minute_key(delta.app, delta.minute), TEN_MINUTE_TTL_SECONDS),
            ):
                for name, amount in delta.add.items():
                    # HINCRBY refuses a field that already holds a fraction (a CPU sum of 12.5 gets
                    # a whole 41.0 next); HINCRBYFLOAT adds to either and keeps whole sums whole.
                    pipe.hincrbyfloat(key, name, amount)
                if delta.last:
                    pipe.hset(key, mapping={name: repr(value) for name, value in delta.last.items()})
                if delta.maxima:
                    args: list[str] = []
                    for name, value in delta.maxima.items():
                        args += [name, repr(value)]
                    self._max(keys=[key], args=args, client=pipe)
                pipe.expire(key, ttl)
        if apps:
            pipe.zadd(APPS_KEY, apps)
            pipe.zremrangebyscore(APPS_KEY, "-inf", time.time() - TEN_MINUTE_TTL_SECONDS)
        pipe.execute()

    def forget_app(self, app: str) -> None:
        """Remove an app's series (a destroyed app's name may be reused)."""
        keys = list(self.client.scan_iter(match=f"{KEY_PREFIX}:{app}:*", count=1000))
        for start in range(0, len(keys), 500):
            self.client.delete(*keys[start : start + 500])
        self.client.zrem(APPS_KEY, app)

    # reading

    def apps(self) -> list[str]:
        return sorted(name.decode() for name in self.client.zrange(APPS_KEY, 0, -1))

    def minute_points(
        self, app: str, *, process_type: str | None = None, since: timedelta = timedelta(minutes=30)
    ) -> list[MinutePoint]:
        seconds = resolution(since)
        return [
            point_from_fields(start, raw, process_type, seconds=seconds)
            for start, raw in self._hashes(app, since)
        ]

    def dyno_exits(
        self, app: str, *, process_type: str | None = None, since: timedelta = timedelta(minutes=30)
    ) -> list[DynoExits]:
        """The minutes (or ten minutes past 24 h) in which dynos exited, oldest first."""
        found = []
        for start, raw in self._hashes(app, since):
            exits = exits_from_fields(start, raw, process_type)
            if exits is not None:
                found.append(exits)
        return found

    def _hashes(self, app: str, since: timedelta) -> list[tuple[int, dict[bytes, bytes]]]:
        """Each minute's hash (each ten minutes' past 24 h) since `since` ago, oldest first."""
        since = min(max(since, timedelta(minutes=1)), MAX_SINCE)
        step = resolution(since)
        now = int(time.time())
        last = now - now % step
        first = last - (int(since.total_seconds()) // step - 1) * step
        starts = list(range(first, last + 1, step))
        pipe = self.client.pipeline(transaction=False)
        for start in starts:
            pipe.hgetall(minute_key(app, start) if step == MINUTE else ten_minute_key(app, start))
        return list(zip(starts, pipe.execute(), strict=True))

    def raw_minute(self, app: str, minute: int) -> dict[str, float]:
        return decode_fields(self.client.hgetall(minute_key(app, minute)))


def decode_fields(raw: dict[bytes, bytes]) -> dict[str, float]:
    fields: dict[str, float] = {}
    for name, value in raw.items():
        try:
            fields[name.decode()] = float(value)
        except ValueError:
            continue
    return fields


@dataclass(frozen=True)
class DynoExits:
    """Dyno exits of one minute by process type and exit code ("unknown" when Docker did not say)."""

    time: datetime
    codes: dict[tuple[str, str], int]


def exits_from_fields(start: int, raw: dict[bytes, bytes], process_type: str | None) -> DynoExits | None:
    codes: dict[tuple[str, str], int] = {}
    for name, value in decode_fields(raw).items():
        scope, _, rest = name.partition("|")
        ptype, _, metric = rest.partition("|")
        if scope != "p" or not metric.startswith("exit|") or value <= 0:
            continue
        if process_type is None or ptype == process_type:
            codes[(ptype, metric[len("exit|") :])] = int(value)
    return DynoExits(time=datetime.fromtimestamp(start, UTC), codes=codes) if codes else None


def point_from_fields(
    start: int, raw: dict[bytes, bytes], process_type: str | None, *, seconds: int = MINUTE
) -> MinutePoint:
    """One point from a minute's hash (`seconds` wide: TEN_MINUTES for a ten-minute hash), for one
    process type or (None) all of them together."""
    point = MinutePoint(time=datetime.fromtimestamp(start, UTC))
    readings = _ProcessReadings(point)
    timer_buckets: dict[str, dict[int, int]] = defaultdict(lambda: defaultdict(int))
    for name, value in decode_fields(raw).items():
        scope, _, rest = name.partition("|")
        if scope == "x":
            _read_custom(point, timer_buckets, rest, value)
        elif scope == "p":
            ptype, _, metric = rest.partition("|")
            if process_type is None or ptype == process_type:
                readings.read(metric, value)
    readings.finish(seconds)
    for series, counts in timer_buckets.items():
        p95 = percentile(counts, 0.95)
        if p95 is not None:
            point.custom[series] = p95
    return point


def _read_custom(
    point: MinutePoint, timer_buckets: dict[str, dict[int, int]], rest: str, value: float
) -> None:
    """One statsd field (`KIND|NAME`, timers `t|NAME|BUCKET`): counters, gauges and sets as they are."""
    kind, _, series = rest.partition("|")
    if kind == "t":
        series, _, bucket = series.rpartition("|")
        timer_buckets[series][int(bucket)] += int(value)
    elif kind in ("c", "g", "s"):
        point.custom[series] = value


def _larger(current: float | None, value: float) -> float:
    return value if current is None else max(current, value)


class _ProcessReadings:
    """A point's router and dyno fields (`p|TYPE|METRIC`) of one or several process types: counters
    add up, maxima and limits take the largest, means and percentiles are computed by `finish`."""

    def __init__(self, point: MinutePoint) -> None:
        self.point = point
        self.buckets: dict[int, int] = defaultdict(int)
        self.tmax: float | None = None
        self.rss: float | None = None
        self.swap: float | None = None
        self.limit: float | None = None
        self.cpu_sum = self.cpu_n = 0.0
        self.busy_ms: float | None = None

    def read(self, metric: str, value: float) -> None:
        """Take one field (its METRIC part) into the point or into what `finish` computes from."""
        point = self.point
        if metric == "req":
            point.requests += int(value)
        elif metric in STATUS_CLASSES:
            point.status[metric] += int(value)
        elif metric.startswith("t|"):
            self.buckets[int(metric[2:])] += int(value)
        elif metric.startswith("h|"):
            point.errors[metric[2:]] = point.errors.get(metric[2:], 0) + int(value)
        elif metric == "bytes":
            point.bytes += int(value)
        elif metric == "restarts":
            point.restarts += int(value)
        else:
            self._read_measure(metric, value)

    def _read_measure(self, metric: str, value: float) -> None:
        if metric == "tmax":
            self.tmax = _larger(self.tmax, value)
        elif metric == "rss_max":
            self.rss = _larger(self.rss, value)
        elif metric == "swap_max":
            self.swap = _larger(self.swap, value)
        elif metric == "limit_mb":
            self.limit = _larger(self.limit, value)
        elif metric == "cpu_sum":
            self.cpu_sum += value
        elif metric == "cpu_n":
            self.cpu_n += value
        elif metric == "busy_ms":
            self.busy_ms = (self.busy_ms or 0.0) + value

    def finish(self, seconds: int) -> None:
        """Set the point's maxima, percentiles and means; `seconds` is how long the point is."""
        point, tmax = self.point, self.tmax
        point.max_ms = tmax
        point.p50_ms = percentile(self.buckets, 0.50, ceiling=tmax)
        point.p95_ms = percentile(self.buckets, 0.95, ceiling=tmax)
        point.p99_ms = percentile(self.buckets, 0.99, ceiling=tmax)
        point.memory_rss_mb = None if self.rss is None else round(self.rss, 1)
        point.swap_mb = None if self.swap is None else round(self.swap, 1)
        point.memory_limit_mb = self.limit
        point.cpu_percent = round(self.cpu_sum / self.cpu_n, 1) if self.cpu_n else None
        point.concurrency = None if self.busy_ms is None else round(self.busy_ms / (seconds * 1000), 2)


def parse_since(text: str) -> timedelta:
    """`30m`, `1h`, `90s`, `7d` (at most 7 days); ValueError with what to write otherwise."""
    units = {"s": 1, "m": 60, "h": 3600, "d": 86400}
    text = text.strip().lower()
    if len(text) < 2 or text[-1] not in units or not text[:-1].isdigit():
        raise ValueError(f"since must look like 30m, 1h or 7d, not {text!r}")
    since = timedelta(seconds=int(text[:-1]) * units[text[-1]])
    if since <= timedelta(0) or since > MAX_SINCE:
        raise ValueError("since must be between 1m and 7d")
    return since
