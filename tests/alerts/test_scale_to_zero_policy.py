"""Scale to zero: a web type with min 0 sleeps after the idle window without requests, and only then;
with min 1 or more, no idleness takes it below min."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from tests.alerts.fakes import minute
from wharf.platform.autoscale.policy import History, Policy, decide
from wharf.platform.autoscale.scaler import last_request_at

T0 = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
IDLE = timedelta(minutes=30)


def quiet_minutes(
    current: int, policy: Policy, minutes: int, busy_at: frozenset[int] = frozenset()
) -> list[int]:
    """One decision a minute with no traffic except at BUSY_AT; the dyno count after each."""
    history: History = History()
    counts: list[int] = []
    last: datetime | None = None
    for i in range(minutes):
        now = T0 + timedelta(minutes=i)
        requests = 100 if i in busy_at else 0
        point = minute(now - timedelta(minutes=1), requests=requests, p95=40 if requests else None)
        if requests:
            last = now
        decision = decide(
            current=current, point=point, policy=policy, history=history, now=now, last_request_at=last
        )
        history, current = decision.history, decision.quantity
        counts.append(current)
    return counts


def test_min_zero_sleeps_after_the_idle_window_and_not_before() -> None:
    policy = Policy(min_dynos=0, max_dynos=2, p95_ms=500, idle_window=IDLE)
    counts = quiet_minutes(1, policy, 32)
    assert counts[:30] == [1] * 30
    assert counts[30:] == [0, 0]


def test_a_request_restarts_the_idle_window() -> None:
    policy = Policy(min_dynos=0, max_dynos=2, p95_ms=500, idle_window=IDLE)
    counts = quiet_minutes(1, policy, 45, busy_at=frozenset({20}))
    assert 0 not in counts
    assert quiet_minutes(1, policy, 52, busy_at=frozenset({20}))[-1] == 0


def test_min_zero_without_traffic_steps_down_to_one_not_zero_before_idle() -> None:
    policy = Policy(min_dynos=0, max_dynos=4, p95_ms=500, idle_window=IDLE, down_window=timedelta(minutes=5))
    counts = quiet_minutes(4, policy, 20)
    assert min(counts) == 1 and counts[-1] == 1


def test_min_one_or_more_never_sleeps() -> None:
    for low in (1, 2):
        policy = Policy(min_dynos=low, max_dynos=4, p95_ms=500, idle_window=IDLE)
        assert min(quiet_minutes(low, policy, 120)) == low


def test_a_type_that_may_not_sleep_stays_at_one_with_min_zero() -> None:
    # idle_window None: a worker type (the scaler only gives web an idle window).
    policy = Policy(min_dynos=0, max_dynos=2, p95_ms=500)
    assert min(quiet_minutes(1, policy, 120)) == 1


def test_a_sleeping_type_stays_asleep_for_the_waker() -> None:
    policy = Policy(min_dynos=0, max_dynos=2, p95_ms=500, idle_window=IDLE)
    point = minute(T0, requests=500, p95=900)
    decision = decide(current=0, point=point, policy=policy, history=History(), now=T0)
    assert decision.quantity == 0


def test_last_request_is_the_end_of_the_newest_busy_minute() -> None:
    now = T0 + timedelta(minutes=5, seconds=20)
    points = [minute(T0, requests=3, p95=10), minute(T0 + timedelta(minutes=2), requests=0, p95=None)]
    assert last_request_at(points, now) == T0 + timedelta(minutes=1)
    assert last_request_at([minute(T0 + timedelta(minutes=5), requests=1, p95=5)], now) == now
    assert last_request_at(points[1:], now) is None
