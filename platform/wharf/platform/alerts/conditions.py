"""Whether an alert's condition holds now: pure functions of what the platform recorded.

`crash` and `deploy` read the dynos and builds the platform keeps; `p95`, `errors` and `memory` read
per-minute points of a `MetricsReader`. Each answers a `Reading`: holds or not, and a sentence saying why.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from wharf.platform.metrics.points import MinutePoint
from wharf.platform.runtime.base import Dyno, DynoState
from wharf.platform.scheduler.dynos import STABLE_SECONDS, crash_streak, is_oneoff, restarts_of


@dataclass(frozen=True)
class Reading:
    holds: bool
    detail: str


def crash_loop(dynos: Sequence[Dyno], *, restarts: float, now: datetime) -> Reading:
    """A formation dyno restarted `restarts` times in a row without staying up STABLE_SECONDS."""
    looping = []
    for dyno in dynos:
        if is_oneoff(dyno):
            continue
        if dyno.state is DynoState.CRASHED:
            streak = crash_streak(dyno)
        elif dyno.started_at is not None and (now - dyno.started_at).total_seconds() >= STABLE_SECONDS:
            streak = 0
        else:
            streak = restarts_of(dyno)
        if streak >= restarts:
            exit_code = f", last exit code {dyno.exit_code}" if dyno.exit_code is not None else ""
            looping.append(f"{dyno.dyno} restarted {streak} times{exit_code}")
    if looping:
        return Reading(True, "Crash loop: " + "; ".join(looping) + ".")
    return Reading(False, "No dyno is crash-looping.")


def failed_deploy(
    *, build_status: str | None, build_failure: str | None, release_status: str | None
) -> Reading:
    """The latest build failed, or the latest release could not start."""
    if build_status == "failed":
        return Reading(True, f"The latest build failed: {build_failure or 'see wharf builds'}.")
    if release_status == "failed":
        return Reading(True, "The latest release failed to deploy.")
    return Reading(False, "The latest deploy succeeded.")


def _recent(points: Sequence[MinutePoint], minutes: int) -> list[MinutePoint]:
    """The last `minutes` points that saw requests, or [] when fewer minutes saw any."""
    busy = [point for point in points if point.requests > 0]
    return busy[-minutes:] if len(busy) >= minutes else []


def slow_p95(points: Sequence[MinutePoint], *, threshold_ms: float, minutes: int) -> Reading:
    recent = [p for p in _recent(points, minutes) if p.p95_ms is not None]
    if len(recent) == minutes and all(p.p95_ms is not None and p.p95_ms > threshold_ms for p in recent):
        worst = max(p.p95_ms or 0.0 for p in recent)
        return Reading(True, f"p95 over {threshold_ms:g} ms for {minutes} min (up to {worst:.0f} ms).")
    latest = next((p.p95_ms for p in reversed(points) if p.p95_ms is not None), None)
    shown = f"{latest:.0f} ms" if latest is not None else "no traffic"
    return Reading(False, f"p95 is under {threshold_ms:g} ms ({shown}).")


def error_share(point: MinutePoint) -> float:
    return 100.0 * point.status.get("5xx", 0) / point.requests if point.requests else 0.0


def errors_over(points: Sequence[MinutePoint], *, threshold_percent: float, minutes: int) -> Reading:
    recent = _recent(points, minutes)
    if recent and all(error_share(p) > threshold_percent for p in recent):
        worst = max(error_share(p) for p in recent)
        return Reading(
            True,
            f"Over {threshold_percent:g}% of requests answered 5xx for {minutes} min (up to {worst:.1f}%).",
        )
    return Reading(False, f"Under {threshold_percent:g}% of requests answer 5xx.")


def memory_over(
    points: Sequence[MinutePoint], *, threshold_percent: float, minutes: int, limit_mb: float
) -> Reading:
    """`memory_rss_mb` of a process type's points (its largest dyno) against the dyno size's limit."""
    measured = [p for p in points if p.memory_rss_mb is not None][-minutes:]
    share = [100.0 * (p.memory_rss_mb or 0.0) / limit_mb for p in measured]
    if len(measured) == minutes and all(value > threshold_percent for value in share):
        return Reading(
            True,
            f"Memory over {threshold_percent:g}% of {limit_mb:g} MB for {minutes} min "
            f"(up to {max(share):.0f}%).",
        )
    return Reading(False, f"Memory under {threshold_percent:g}% of {limit_mb:g} MB.")
