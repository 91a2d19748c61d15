"""One minute of an app's (or one process type's) metrics, in the shape `wharf metrics --json` prints.

Everything that reads metrics (the CLI's API, the dashboard, alerts, the autoscaler) reads them as
`MinutePoint`s through a `MetricsReader`, whatever stores them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Protocol

STATUS_CLASSES = ("2xx", "3xx", "4xx", "5xx")


@dataclass
class MinutePoint:
    """Aggregates of one minute; a field is None when nothing was measured in that minute."""

    time: datetime
    requests: int = 0
    status: dict[str, int] = field(default_factory=lambda: dict.fromkeys(STATUS_CLASSES, 0))
    p50_ms: float | None = None
    p95_ms: float | None = None
    p99_ms: float | None = None
    max_ms: float | None = None
    memory_rss_mb: float | None = None
    cpu_percent: float | None = None
    custom: dict[str, float] = field(default_factory=dict)
    # Router H-code errors by code ({"H12": 3}); they also count under the status the router answered.
    errors: dict[str, int] = field(default_factory=dict)
    bytes: int = 0
    restarts: int = 0
    swap_mb: float | None = None
    memory_limit_mb: float | None = None
    # Requests in flight on average over the point (the summed service time over the point's length).
    concurrency: float | None = None

    def as_json(self) -> dict[str, Any]:
        """The point as `wharf metrics --json` prints it: the contract's keys up to `custom`, then more."""
        return {
            "time": self.time.isoformat(),
            "requests": self.requests,
            "status": {name: self.status.get(name, 0) for name in STATUS_CLASSES},
            "p50_ms": self.p50_ms,
            "p95_ms": self.p95_ms,
            "p99_ms": self.p99_ms,
            "max_ms": self.max_ms,
            "memory_rss_mb": self.memory_rss_mb,
            "cpu_percent": self.cpu_percent,
            "custom": dict(self.custom),
            "errors": dict(self.errors),
            "bytes": self.bytes,
            "restarts": self.restarts,
            "swap_mb": self.swap_mb,
            "memory_limit_mb": self.memory_limit_mb,
            "concurrency": self.concurrency,
        }


class MetricsReader(Protocol):
    """Per-minute points of one app, oldest first; `process_type` None means all types together."""

    def minute_points(
        self, app: str, *, process_type: str | None = None, since: timedelta = timedelta(minutes=30)
    ) -> list[MinutePoint]: ...
