"""The autoscaler scales through the formation action: the scheduler starts the dynos, quotas apply, and
each change is an autoscale event and an audit event."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from tests.alerts.fakes import FakeMetrics, minute
from tests.scheduler.test_reconciler import deployed_app
from tests.utils.scheduler_world import World
from wharf.platform.actions.autoscale import AutoscaleRequest, list_autoscale_events, set_autoscaling
from wharf.platform.actions.formation import list_formation
from wharf.platform.autoscale.scaler import Autoscaler
from wharf.platform.db import session_factory, session_scope
from wharf.platform.errors import BadRequest
from wharf.platform.logs.events import list_app_events
from wharf.platform.models import App, User
from wharf.platform.settings import Quotas

T0 = datetime(2026, 12, 1, 12, 0, 30, tzinfo=UTC)


def _autoscale(world: World, app: str, quotas: Quotas | None = None, **fields: int) -> None:
    with session_scope(world.database_url) as session:
        row = session.scalars(select(App).where(App.name == app)).one()
        owner = session.scalars(select(User).where(User.email == world.owner_email)).one()
        request = AutoscaleRequest(process_type="web", **fields)
        set_autoscaling(session=session, app=row, actor=owner, request=request, quotas=quotas or Quotas())


def _web(world: World, app: str) -> int:
    with session_scope(world.database_url) as session:
        row = session.scalars(select(App).where(App.name == app)).one()
        return next(f.quantity for f in list_formation(session=session, app=row) if f.process_type == "web")


def test_load_scales_web_up_through_the_formation_and_back_down_after_the_window(world: World) -> None:
    app = deployed_app(world)
    _autoscale(world, app, min_dynos=1, max_dynos=6, p95_ms=300)
    metrics = FakeMetrics()
    now = [T0]
    lines: list[tuple[str, str]] = []
    scaler = Autoscaler(
        sessions=session_factory(world.database_url),
        metrics=metrics,
        clock=lambda: now[0],
        write_line=lambda name, text: lines.append((name, text)),
    )

    def tick(requests: int, p95: float) -> None:
        metrics.add(
            app, minute(now[0].replace(second=0) - timedelta(minutes=1), requests=requests, p95=p95), "web"
        )
        scaler.scale_once()
        now[0] += timedelta(minutes=1)

    tick(4000, 1150)
    assert _web(world, app) == 4
    world.converge(lambda: len(world.backends(app)) == 4)
    for _ in range(4):
        tick(200, 40)
    assert _web(world, app) == 4, "held through the stabilization window"
    # 300 s after the loaded minute's decision, every recommendation of the window asks for 1.
    tick(200, 40)
    assert _web(world, app) == 1
    world.converge(lambda: len(world.backends(app)) == 1)

    with session_scope(world.database_url) as session:
        row = session.scalars(select(App).where(App.name == app)).one()
        events = [(e.from_quantity, e.to_quantity) for e in list_autoscale_events(session=session, app=row)]
        audit = [e.message for e in list_app_events(session=session, app_name=app)]
    assert events == [(4, 1), (1, 4)]
    assert any("web@4:basic by the autoscaler" in message for message in audit)
    # Other tests' apps share the database: only this app's lines count.
    assert [text.split(":")[0] for name, text in lines if name == app] == [
        "Scaled web from 1 to 4",
        "Scaled web from 4 to 1",
    ]


def test_the_formation_quota_still_applies_to_the_autoscaler(world: World) -> None:
    app = deployed_app(world)
    with pytest.raises(BadRequest, match="WHARF_MAX_DYNOS_PER_TYPE"):
        _autoscale(world, app, quotas=Quotas(dynos_per_type=3), min_dynos=1, max_dynos=5, p95_ms=300)
    with pytest.raises(BadRequest, match="--min must be 1 or more"):
        _autoscale(world, app, min_dynos=-1, max_dynos=5, p95_ms=300)
    with pytest.raises(BadRequest, match=r"--concurrency .* give 1 or more \(e.g. --concurrency 8\)"):
        _autoscale(world, app, min_dynos=1, max_dynos=5, p95_ms=300, concurrency_per_dyno=0)


def test_requests_in_flight_over_the_concurrency_target_add_dynos(world: World) -> None:
    app = deployed_app(world)
    _autoscale(world, app, min_dynos=1, max_dynos=6, p95_ms=300, concurrency_per_dyno=4)
    metrics = FakeMetrics()
    point = minute(T0.replace(second=0) - timedelta(minutes=1), requests=3000, p95=200, concurrency=10.5)
    metrics.add(app, point, "web")
    Autoscaler(sessions=session_factory(world.database_url), metrics=metrics, clock=lambda: T0).scale_once()
    # p95 is under its target; 10.5 requests in flight at 4 per dyno ask for 3 dynos.
    assert _web(world, app) == 3
    with session_scope(world.database_url) as session:
        row = session.scalars(select(App).where(App.name == app)).one()
        reasons = [e.reason for e in list_autoscale_events(session=session, app=row)]
        audit = [e.message for e in list_app_events(session=session, app_name=app)]
    assert len(reasons) == 1 and "10.5 requests in flight at 4 per dyno" in reasons[0]
    assert any("at most 4 requests in flight per dyno" in message for message in audit)
