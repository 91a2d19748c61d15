"""The scaling rule on recorded series: up at once (several dynos when far over), down after the
stabilization window to its highest recommendation, one step a minute at most, the throughput and
concurrency signals, and min/max."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

from tests.alerts.fakes import minute
from wharf.platform.autoscale.policy import History, Policy, decide, recommend, within
from wharf.platform.autoscale.scaler import seconds_to_next_decision

T0 = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
POLICY = Policy(min_dynos=1, max_dynos=10, p95_ms=300)


def replay(current: int, series: Sequence[tuple[int, float | None]], policy: Policy = POLICY) -> list[int]:
    """Feed one (requests, p95) per minute; the dyno count after each decision."""
    history = History()
    counts = []
    for i, (requests, p95) in enumerate(series):
        point = minute(T0 + timedelta(minutes=i), requests=requests, p95=p95)
        decision = decide(
            current=current, point=point, policy=policy, history=history, now=T0 + timedelta(minutes=i)
        )
        history, current = decision.history, decision.quantity
        counts.append(current)
    return counts


def test_far_over_target_scales_up_several_dynos_at_once() -> None:
    # 1 dyno at 4x the target: proportional rule asks for 4, applied in one step.
    assert replay(1, [(6000, 1200)]) == [4]
    # 2 dynos at 5x asks for 10; one step adds at most max(100%, 4 dynos).
    assert replay(2, [(9000, 1500), (9000, 1500)]) == [6, 10]


def test_within_the_tolerance_band_nothing_changes() -> None:
    assert replay(3, [(3000, 320), (3000, 280)]) == [3, 3]


def test_scale_down_waits_for_the_window_then_goes_to_its_highest_recommendation() -> None:
    quiet = [(100, 30)] * 9
    # The window is 300 s: minutes 0-4 hold; at minute 5 every recommendation of the window was 1.
    assert replay(4, quiet) == [4, 4, 4, 4, 4, 1, 1, 1, 1]


def test_a_step_down_stops_at_the_highest_recommendation_of_the_window() -> None:
    # On 4 dynos, minute 4 still asks for 2 (p95 at half the target): minute 5 goes from 4 to 2 in one
    # step, and 2 stays until minute 4 leaves the window at minute 9.
    series = [(100, 30)] * 4 + [(3000, 150)] + [(100, 30)] * 5
    assert replay(4, series) == [4, 4, 4, 4, 4, 2, 2, 2, 2, 1]


def test_a_spike_within_the_window_keeps_the_dynos() -> None:
    # Minute 3 on 4 dynos is at the target (asks for 4): nothing goes until it leaves the window.
    series = [(100, 30)] * 3 + [(4000, 300)] + [(100, 30)] * 6
    assert replay(4, series) == [4, 4, 4, 4, 4, 4, 4, 4, 1, 1]


def test_the_throughput_signal_adds_dynos_when_latency_still_looks_fine() -> None:
    policy = Policy(min_dynos=1, max_dynos=10, p95_ms=300, requests_per_dyno=1000)
    wanted, reason = recommend(2, minute(T0, requests=5500, p95=250), policy)
    assert wanted == 6 and "5500 requests/min at 1000 per dyno" in reason
    assert replay(2, [(5500, 250)], policy) == [6]


def test_the_concurrency_signal_asks_for_enough_dynos_for_the_requests_in_flight() -> None:
    policy = Policy(min_dynos=1, max_dynos=10, p95_ms=300, concurrency_per_dyno=8)
    # 12.4 requests in flight at 8 per dyno: 2 dynos, though p95 on 1 dyno is under its target.
    busy = minute(T0, requests=3000, p95=250, concurrency=12.4)
    wanted, reason = recommend(1, busy, policy)
    assert wanted == 2
    assert "12.4 requests in flight at 8 per dyno" in reason and "p95 250 ms" in reason
    # Exactly 8 per dyno on 3 dynos asks for 3, not 4.
    assert recommend(3, minute(T0, requests=3000, p95=300, concurrency=24.0), policy)[0] == 3
    # Bounded by max like every signal.
    assert recommend(4, minute(T0, requests=90000, p95=300, concurrency=400.0), policy)[0] == 10
    decision = decide(current=1, point=busy, policy=policy, history=History(), now=T0 + timedelta(minutes=1))
    assert decision.quantity == 2 and decision.reason.startswith("up: ")


def test_the_concurrency_signal_is_off_unless_set_and_without_router_timings() -> None:
    busy = minute(T0, requests=3000, p95=250, concurrency=40.0)
    wanted, reason = recommend(1, busy, POLICY)
    assert wanted == 1 and "in flight" not in reason
    untimed = minute(T0, requests=3000, p95=250, concurrency=None)
    on = Policy(min_dynos=1, max_dynos=10, p95_ms=300, concurrency_per_dyno=8)
    assert recommend(1, untimed, on) == (1, "p95 250 ms against a 300 ms target")


def test_the_largest_of_the_three_signals_wins() -> None:
    policy = Policy(min_dynos=1, max_dynos=20, p95_ms=300, requests_per_dyno=1000, concurrency_per_dyno=8)
    # p95 asks for 2 (2x on 1 dyno), throughput for 3, concurrency for 5.
    wanted, reason = recommend(1, minute(T0, requests=2500, p95=600, concurrency=33.0), policy)
    assert wanted == 5
    assert reason == (
        "p95 600 ms against a 300 ms target, 2500 requests/min at 1000 per dyno, "
        "33.0 requests in flight at 8 per dyno"
    )
    # Throughput for 9 outweighs concurrency for 5.
    assert recommend(1, minute(T0, requests=8100, p95=300, concurrency=33.0), policy)[0] == 9


def test_min_and_max_bound_every_decision() -> None:
    policy = Policy(min_dynos=2, max_dynos=5, p95_ms=300)
    assert replay(1, [(10, 10)], policy) == [2]
    assert replay(4, [(90000, 3000)], policy) == [5]
    assert replay(7, [(100, 300)], policy) == [5]
    # No traffic at all recommends the minimum (after the window).
    assert replay(3, [(0, None)] * 7, policy)[-1] == 2


def test_a_minute_measured_before_a_scale_up_does_not_scale_up_again() -> None:
    # Minute 0 on 1 dyno at 4x the target asks for 4, decided just after it ended.
    after = T0 + timedelta(minutes=1, seconds=5)
    first = decide(
        current=1, point=minute(T0, requests=6000, p95=1200), policy=POLICY, history=History(), now=after
    )
    assert first.quantity == 4
    # The same minute read again (a decision every few seconds), and minute 1, which began on 1 dyno
    # while the new ones booted: neither measured 4 dynos, so neither is a reason for 8.
    history = first.history
    for point, now in (
        (minute(T0, requests=6000, p95=1200), after + timedelta(seconds=10)),
        (minute(T0 + timedelta(minutes=1), requests=7000, p95=1200), after + timedelta(minutes=1)),
    ):
        decision = decide(current=4, point=point, policy=POLICY, history=history, now=now)
        assert decision.quantity == 4, decision.reason
        history = decision.history
    # Minute 2 ran on 4 dynos from its start: still 2x over the target, so up again.
    measured = minute(T0 + timedelta(minutes=2), requests=12000, p95=600)
    again = decide(
        current=4, point=measured, policy=POLICY, history=history, now=after + timedelta(minutes=2)
    )
    assert again.quantity == 8


def test_one_step_down_per_step_interval_however_the_recommendation_falls() -> None:
    # No window; every 5 s the concurrency signal asks for one dyno fewer, but steps keep 10 s apart.
    policy = Policy(
        min_dynos=1,
        max_dynos=10,
        p95_ms=300,
        requests_per_dyno=1000,
        down_window=timedelta(0),
        down_step=timedelta(seconds=10),
    )
    history, current, counts = History(), 4, []
    for second, requests in zip(range(0, 30, 5), (3000, 2000, 2000, 1000, 1000, 1000), strict=True):
        now = T0 + timedelta(seconds=second)
        point = minute(T0, requests=requests, p95=30)
        decision = decide(current=current, point=point, policy=policy, history=history, now=now)
        history, current = decision.history, decision.quantity
        counts.append(current)
    assert counts == [3, 3, 2, 2, 1, 1]


def test_decisions_keep_to_the_minute_a_few_seconds_after_it_ends() -> None:
    minute_start = T0.timestamp()
    assert seconds_to_next_decision(minute_start, 60) == 6
    assert seconds_to_next_decision(minute_start + 6, 60) == 60
    assert seconds_to_next_decision(minute_start + 40.5, 60) == 25.5
    # A shortened interval keeps its own grid, half an interval in at most.
    assert seconds_to_next_decision(minute_start + 1, 3) == 0.5


def test_a_recommendation_a_window_old_to_the_second_has_left_it() -> None:
    window = timedelta(seconds=300)
    assert within(window, T0, T0 + timedelta(seconds=299.4))
    assert not within(window, T0, T0 + timedelta(seconds=299.996))
    assert not within(window, T0, T0 + timedelta(seconds=300))
