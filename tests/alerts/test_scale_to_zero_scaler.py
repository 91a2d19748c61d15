"""The autoscaler puts an idle web type with min 0 to sleep through the formation action (the scheduler
stops its dyno), marks it asleep for the router before, and logs the sleep; min 0 is web's alone."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from tests.alerts.fakes import FakeMetrics
from tests.alerts.test_autoscaler_formation import _autoscale, _web
from tests.scheduler.test_reconciler import deployed_app
from tests.utils.busybox_dynos import TRAPS_TERM, WEB
from tests.utils.scheduler_world import World
from wharf.platform.actions.autoscale import AutoscaleRequest, list_autoscale_events, set_autoscaling
from wharf.platform.autoscale.scaler import Autoscaler
from wharf.platform.autoscale.sleep import mark_asleep, sleeping_statuses
from wharf.platform.db import session_factory, session_scope
from wharf.platform.errors import BadRequest
from wharf.platform.models import App, User
from wharf.platform.settings import Quotas

T0 = datetime(2026, 12, 1, 12, 0, 30, tzinfo=UTC)


def test_idle_web_with_min_zero_goes_to_zero_dynos_and_is_marked_asleep(world: World) -> None:
    app = deployed_app(world)
    _autoscale(world, app, min_dynos=0, max_dynos=2, p95_ms=500)
    now = [T0]
    asleep: list[tuple[str, datetime]] = []
    lines: list[tuple[str, str]] = []
    scaler = Autoscaler(
        sessions=session_factory(world.database_url),
        metrics=FakeMetrics(),
        clock=lambda: now[0],
        idle_window=timedelta(seconds=20),
        on_asleep=lambda name, since: asleep.append((name, since)),
        write_line=lambda name, text: lines.append((name, text)),
    )
    scaler.scale_once()
    now[0] += timedelta(seconds=10)
    scaler.scale_once()
    assert _web(world, app) == 1 and not asleep, "awake within the idle window"
    now[0] += timedelta(seconds=15)
    scaler.scale_once()
    assert _web(world, app) == 0
    assert asleep == [(app, now[0])]
    world.converge(lambda: world.running(app) == [] and world.backends(app) == [])
    with session_scope(world.database_url) as session:
        row = session.scalars(select(App).where(App.name == app)).one()
        events = [
            (e.from_quantity, e.to_quantity, e.reason)
            for e in list_autoscale_events(session=session, app=row)
        ]
    assert events == [(1, 0, "sleep: no requests for 25 s")]
    assert [text for name, text in lines if name == app] == [
        "Scaled web from 1 to 0: sleep: no requests for 25 s"
    ]
    # Asleep, it stays at 0 (the waker wakes it), and the mark is kept.
    now[0] += timedelta(minutes=5)
    scaler.scale_once()
    assert _web(world, app) == 0
    # `wharf ps` shows the type as sleeping once the router knows it is asleep.
    mark_asleep(world.redis, app, asleep[0][1])
    with session_scope(world.database_url) as session:
        row = session.scalars(select(App).where(App.name == app)).one()
        shown = sleeping_statuses(session=session, client=world.redis, app=row, dynos=[])
    assert [(s.name, s.state, s.since) for s in shown] == [("web", "sleeping", asleep[0][1])]


def test_min_zero_is_refused_for_other_types_and_min_one_never_sleeps(world: World) -> None:
    app = deployed_app(world, {"web": WEB, "worker": TRAPS_TERM})
    request = AutoscaleRequest(process_type="worker", min_dynos=0, max_dynos=2, p95_ms=500)
    with (
        pytest.raises(BadRequest, match="web alone takes --min 0"),
        session_scope(world.database_url) as session,
    ):
        row = session.scalars(select(App).where(App.name == app)).one()
        owner = session.scalars(select(User).where(User.email == world.owner_email)).one()
        set_autoscaling(session=session, app=row, actor=owner, request=request, quotas=Quotas())
    _autoscale(world, app, min_dynos=1, max_dynos=2, p95_ms=500)
    now = [T0]
    scaler = Autoscaler(
        sessions=session_factory(world.database_url),
        metrics=FakeMetrics(),
        clock=lambda: now[0],
        idle_window=timedelta(seconds=1),
    )
    for _ in range(5):
        scaler.scale_once()
        now[0] += timedelta(minutes=10)
    assert _web(world, app) == 1
