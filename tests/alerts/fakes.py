"""A stateful fake MetricsReader: per-(app, type) series a test appends minutes to."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from wharf.platform.metrics.points import MinutePoint


def minute(
    time: datetime,
    *,
    requests: int,
    p95: float | None,
    errors: int = 0,
    rss: float | None = None,
    concurrency: float | None = None,
) -> MinutePoint:
    status = {"2xx": requests - errors, "3xx": 0, "4xx": 0, "5xx": errors}
    return MinutePoint(
        time=time, requests=requests, status=status, p95_ms=p95, memory_rss_mb=rss, concurrency=concurrency
    )


@dataclass
class FakeMetrics:
    series: dict[tuple[str, str | None], list[MinutePoint]] = field(default_factory=dict)
    calls: list[tuple[str, str | None]] = field(default_factory=list)

    def add(self, app: str, point: MinutePoint, process_type: str | None = None) -> None:
        self.series.setdefault((app, process_type), []).append(point)

    def minute_points(
        self, app: str, *, process_type: str | None = None, since: timedelta = timedelta(minutes=30)
    ) -> list[MinutePoint]:
        self.calls.append((app, process_type))
        points = self.series.get((app, process_type), [])
        if not points:
            return []
        newest = points[-1].time
        return [point for point in points if point.time > newest - since - timedelta(minutes=1)]
