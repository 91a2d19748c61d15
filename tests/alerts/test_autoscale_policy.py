"""The scaling rule on recorded series: up at once (several dynos when far over), down one dyno a minute
after the stabilization window, the concurrency signal, and min/max."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

from tests.alerts.fakes import minute
from wharf.platform.autoscale.policy import History, Policy, decide, recommend

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


def test_scale_down_waits_for_the_window_then_steps_one_a_minute() -> None:
    quiet = [(100, 30)] * 9
    # The window is 300 s: minutes 0-4 hold; from minute 5 one dyno a minute.
    assert replay(4, quiet) == [4, 4, 4, 4, 4, 3, 2, 1, 1]


def test_a_spike_within_the_window_keeps_the_dynos() -> None:
    series = [(100, 30)] * 6 + [(4000, 330)] + [(100, 30)] * 3
    counts = replay(3, series)
    assert counts[:5] == [3, 3, 3, 3, 3]
    assert counts[5] == 2  # the window saw only low recommendations
    # After the spike asks for 3 again, the window holds 3 until it slides past.
    assert counts[6] == 3 and counts[7:] == [3, 3, 3]


def test_the_concurrency_signal_adds_dynos_when_latency_still_looks_fine() -> None:
    policy = Policy(min_dynos=1, max_dynos=10, p95_ms=300, requests_per_dyno=1000)
    wanted, reason = recommend(2, minute(T0, requests=5500, p95=250), policy)
    assert wanted == 6 and "5500 requests/min at 1000 per dyno" in reason
    assert replay(2, [(5500, 250)], policy) == [6]


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


def test_the_step_down_interval_is_a_policy_setting() -> None:
    policy = Policy(
        min_dynos=1, max_dynos=10, p95_ms=300, down_window=timedelta(0), down_step=timedelta(seconds=10)
    )
    history, current, counts = History(), 4, []
    for second in range(0, 40, 5):
        now = T0 + timedelta(seconds=second)
        decision = decide(current=current, point=None, policy=policy, history=history, now=now)
        history, current = decision.history, decision.quantity
        counts.append(current)
    assert counts == [3, 3, 2, 2, 1, 1, 1, 1]
