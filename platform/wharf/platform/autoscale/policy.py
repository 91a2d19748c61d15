"""The scaling rule, a pure function of the last minute's metrics and what it recommended before.

Heroku's rule: the fewest dynos that keep p95 under the target at the current throughput. The p95
signal recommends `ceil(current * p95 / target)` (Kubernetes' proportional rule, with a 10%
tolerance band); the throughput signal recommends `ceil(requests per minute / requests one dyno
serves)`; the concurrency signal (Knative's target concurrency per replica) recommends
`ceil(requests in flight / requests in flight one dyno takes)`. The largest wins, within min and max.

Up quickly: a higher recommendation applies at once, by up to max(100%, 4 dynos) per decision.
Down slowly: the type scales down to the highest recommendation of the stabilization window (the
last 300 s by default, Kubernetes' scale-down window), only when the window's whole history is known,
and one step a minute at most (`down_step`). As with Kubernetes' default scale-down policy, a step goes
straight to that recommendation, however many dynos it removes: the window is what keeps it slow.

A minute that began before the last change measured the formation before it (and its new dynos still
booting): it never scales up again, since its p95 would be read against dynos it never had. The next
minute measured entirely on the new formation decides.

Asleep: a type whose min is 0 and that may sleep (`idle_window` set: the web type) goes to 0 dynos
once it has had no request for the idle window (30 minutes by default, as Heroku's eco dynos). It
never steps below 1 otherwise, and the rule leaves a sleeping type at 0: the waker wakes it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta

from wharf.platform.metrics.points import MinutePoint

TOLERANCE = 0.1
UP_STEP_DYNOS = 4
DOWN_STEP_INTERVAL = timedelta(minutes=1)
DOWN_WINDOW = timedelta(seconds=300)


@dataclass(frozen=True)
class Policy:
    min_dynos: int
    max_dynos: int
    p95_ms: float
    # Requests per minute one dyno serves at most (the throughput signal); None: off.
    requests_per_dyno: int | None = None
    # Requests in flight one dyno takes on average at most (the concurrency signal); None: off.
    concurrency_per_dyno: int | None = None
    down_window: timedelta = DOWN_WINDOW
    # The least time between two steps down.
    down_step: timedelta = DOWN_STEP_INTERVAL
    # Set when the type may sleep at min 0: no request for this long puts it to 0 dynos.
    idle_window: timedelta | None = None

    @property
    def floor(self) -> int:
        """The fewest dynos of an awake type: min, and at least 1 (only idleness reaches 0)."""
        return max(self.min_dynos, 1)


@dataclass(frozen=True)
class History:
    """What the rule remembers between decisions: its recommendations, its last step down and its
    last change of the dyno count."""

    since: datetime | None = None
    recommendations: tuple[tuple[datetime, int], ...] = ()
    last_down_at: datetime | None = None
    last_change_at: datetime | None = None


@dataclass(frozen=True)
class Decision:
    quantity: int
    reason: str
    history: History = field(default_factory=History)

    def changes(self, current: int) -> bool:
        return self.quantity != current


def by_latency(base: int, p95_ms: float, policy: Policy) -> tuple[int, str]:
    """The p95 signal: BASE dynos scaled by how far p95 is from the target, unchanged within the band."""
    ratio = p95_ms / policy.p95_ms
    wanted = base if abs(ratio - 1.0) <= TOLERANCE else math.ceil(base * ratio)
    return wanted, f"p95 {p95_ms:.0f} ms against a {policy.p95_ms:g} ms target"


def by_throughput(point: MinutePoint, policy: Policy) -> tuple[int, str] | None:
    """The throughput signal: dynos enough for the minute's requests at `requests_per_dyno` each."""
    if not policy.requests_per_dyno:
        return None
    wanted = math.ceil(point.requests / policy.requests_per_dyno)
    return wanted, f"{point.requests} requests/min at {policy.requests_per_dyno} per dyno"


def by_concurrency(point: MinutePoint, policy: Policy) -> tuple[int, str] | None:
    """The concurrency signal: dynos enough for the minute's requests in flight at
    `concurrency_per_dyno` each."""
    if not policy.concurrency_per_dyno or point.concurrency is None:
        return None
    wanted = math.ceil(point.concurrency / policy.concurrency_per_dyno)
    return wanted, f"{point.concurrency:.1f} requests in flight at {policy.concurrency_per_dyno} per dyno"


def recommend(current: int, point: MinutePoint | None, policy: Policy) -> tuple[int, str]:
    """Dynos the last minute asks for, and why: the largest of the signals, within min and max."""
    if point is None or point.requests == 0 or point.p95_ms is None:
        return min(policy.floor, policy.max_dynos), "no traffic"
    optional = (by_throughput(point, policy), by_concurrency(point, policy))
    signals = [by_latency(max(current, 1), point.p95_ms, policy), *(s for s in optional if s is not None)]
    wanted = max(n for n, _ in signals)
    reason = ", ".join(why for _, why in signals)
    return min(max(wanted, policy.floor), policy.max_dynos), reason


def measured_before(point: MinutePoint | None, changed_at: datetime | None) -> bool:
    """Whether POINT's minute began before the last change, so it measured another dyno count."""
    return point is not None and changed_at is not None and point.time < changed_at


def within(window: timedelta, at: datetime, now: datetime) -> bool:
    """Whether AT is less than WINDOW before NOW, to the second: decisions a window apart on the
    scaler's grid differ by a few milliseconds either way, and the older one has left the window."""
    return round((now - at).total_seconds()) < window.total_seconds()


def idle_for(*, since: datetime, last_request_at: datetime | None, now: datetime) -> timedelta:
    """How long the type has been without a request, as far as the rule has watched it."""
    quiet_since = since if last_request_at is None else max(since, last_request_at)
    return now - quiet_since


def decide(
    *,
    current: int,
    point: MinutePoint | None,
    policy: Policy,
    history: History,
    now: datetime,
    last_request_at: datetime | None = None,
) -> Decision:
    """LAST_REQUEST_AT: when the type last served a request (None: not within the metrics kept)."""
    if current == 0 and policy.min_dynos == 0:
        # Asleep: the waker wakes it; the idle window counts again from the first decision awake.
        return Decision(0, "asleep", History())
    wanted, reason = recommend(current, point, policy)
    if wanted > current and measured_before(point, history.last_change_at):
        wanted, reason = current, f"waiting for a minute on {current} dynos ({reason})"
    since = history.since or now
    if policy.idle_window is not None and policy.min_dynos == 0:
        idle = idle_for(since=since, last_request_at=last_request_at, now=now)
        if idle >= policy.idle_window and wanted <= policy.floor:
            return Decision(0, f"sleep: no requests for {idle.total_seconds():.0f} s", History())
    kept = tuple((at, n) for at, n in history.recommendations if within(policy.down_window, at, now))
    remembered = replace(history, since=since, recommendations=(*kept, (now, wanted)))
    changed = replace(remembered, last_change_at=now)
    if current < policy.floor or current > policy.max_dynos:
        target = min(max(current, policy.floor), policy.max_dynos)
        reason = f"within min {policy.min_dynos} and max {policy.max_dynos}"
        return Decision(target, reason, changed if target != current else remembered)
    if wanted > current:
        step = max(current, UP_STEP_DYNOS)
        return Decision(min(wanted, current + step), f"up: {reason}", changed)
    if wanted < current:
        if within(policy.down_window, since, now):
            return Decision(current, f"holding: {reason} (stabilization window)", remembered)
        highest = max(n for _, n in remembered.recommendations)
        if highest >= current:
            return Decision(
                current, f"holding: a higher recommendation within the window ({reason})", remembered
            )
        if history.last_down_at is not None and within(policy.down_step, history.last_down_at, now):
            return Decision(
                current,
                f"holding: one step down per {policy.down_step.total_seconds():g} s ({reason})",
                remembered,
            )
        window = policy.down_window.total_seconds()
        return Decision(
            highest,
            f"down: {reason} (the highest recommendation of the last {window:g} s)",
            replace(changed, last_down_at=now),
        )
    return Decision(current, f"steady: {reason}", remembered)
