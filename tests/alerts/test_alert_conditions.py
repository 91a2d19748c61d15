"""The alert conditions and the ok/firing/resolved transitions, on recorded series and dyno states."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from tests.alerts.fakes import minute
from wharf.platform.alerts import conditions
from wharf.platform.alerts.delivery import signature
from wharf.platform.runtime.base import Dyno, DynoState

T0 = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)


def dyno(state: DynoState, *, restarts: int, up_for: float, number: int = 1, oneoff: bool = False) -> Dyno:
    labels = {"wharf.restarts": str(restarts)}
    if oneoff:
        labels["wharf.oneoff"] = "1"
    started = T0 - timedelta(seconds=up_for)
    finished = T0 if state is DynoState.CRASHED else None
    return Dyno(
        id=f"c{number}",
        app="a",
        process_type="web",
        number=number,
        release=2,
        state=state,
        command="x",
        size="basic",
        started_at=started,
        finished_at=finished,
        exit_code=2 if state is DynoState.CRASHED else None,
        address=None,
        labels=labels,
    )


def test_crash_loop_holds_for_a_dyno_restarting_again_and_again_and_clears_once_it_stays_up() -> None:
    assert conditions.crash_loop([dyno(DynoState.UP, restarts=3, up_for=2)], restarts=3, now=T0).holds
    crashed = conditions.crash_loop([dyno(DynoState.CRASHED, restarts=4, up_for=1)], restarts=3, now=T0)
    assert crashed.holds and "web.1 restarted 4 times, last exit code 2" in crashed.detail
    assert not conditions.crash_loop([dyno(DynoState.UP, restarts=2, up_for=2)], restarts=3, now=T0).holds
    # Up for longer than a minute: the streak is over.
    assert not conditions.crash_loop([dyno(DynoState.UP, restarts=5, up_for=120)], restarts=3, now=T0).holds
    # A crash after a long uptime starts the count afresh; one-offs never count.
    assert not conditions.crash_loop(
        [dyno(DynoState.CRASHED, restarts=5, up_for=300)], restarts=3, now=T0
    ).holds
    oneoff = dyno(DynoState.CRASHED, restarts=9, up_for=1, oneoff=True)
    assert not conditions.crash_loop([oneoff], restarts=3, now=T0).holds


def test_p95_must_stay_over_the_threshold_for_every_one_of_the_minutes() -> None:
    series = [
        minute(T0 + timedelta(minutes=i), requests=100, p95=p95)
        for i, p95 in enumerate([900, 1500, 1600, 1700])
    ]
    assert conditions.slow_p95(series, threshold_ms=1000, minutes=3).holds
    assert not conditions.slow_p95(series, threshold_ms=1000, minutes=4).holds
    series.append(minute(T0 + timedelta(minutes=5), requests=100, p95=200))
    cleared = conditions.slow_p95(series, threshold_ms=1000, minutes=3)
    assert not cleared.holds and "200 ms" in cleared.detail
    idle = [minute(T0, requests=0, p95=None)] * 5
    assert not conditions.slow_p95(idle, threshold_ms=1000, minutes=3).holds


def test_errors_compare_the_share_of_5xx_per_minute() -> None:
    bad = [minute(T0 + timedelta(minutes=i), requests=200, p95=50, errors=30) for i in range(2)]
    assert conditions.errors_over(bad, threshold_percent=10, minutes=2).holds
    assert not conditions.errors_over(bad, threshold_percent=20, minutes=2).holds
    assert not conditions.errors_over(bad[:1], threshold_percent=10, minutes=2).holds


def test_memory_is_a_share_of_the_dyno_size_limit() -> None:
    series = [minute(T0 + timedelta(minutes=i), requests=1, p95=1, rss=480) for i in range(3)]
    assert conditions.memory_over(series, threshold_percent=90, minutes=3, limit_mb=512).holds
    assert not conditions.memory_over(series, threshold_percent=90, minutes=3, limit_mb=1024).holds


def test_failed_deploy_reads_the_latest_build_and_release() -> None:
    assert conditions.failed_deploy(
        build_status="failed", build_failure="no buildpack", release_status="succeeded"
    ).holds
    assert conditions.failed_deploy(
        build_status="succeeded", build_failure=None, release_status="failed"
    ).holds
    assert not conditions.failed_deploy(
        build_status="succeeded", build_failure=None, release_status="succeeded"
    ).holds


def test_signature_is_hmac_sha256_of_the_body_in_hex() -> None:
    # RFC 4231 test case 2.
    assert signature("Jefe", b"what do ya want for nothing?") == (
        "sha256=5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
    )
