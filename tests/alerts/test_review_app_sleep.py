"""A review app's web type sleeps when idle, as Heroku's review apps on eco dynos do: the setting is made
when the review app is created, before anything is released, and the autoscaler leaves the app alone
until its first release has a web type."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from tests.alerts.fakes import FakeMetrics
from tests.alerts.test_autoscaler_formation import _web
from tests.utils.busybox_dynos import TEST_IMAGE, WEB
from tests.utils.scheduler_world import World
from wharf.platform.actions.autoscale import (
    disable_autoscaling,
    list_autoscale_events,
    list_autoscaling,
    sleep_review_app_when_idle,
)
from wharf.platform.autoscale.scaler import Autoscaler
from wharf.platform.db import session_factory, session_scope
from wharf.platform.models import App, User

T0 = datetime(2026, 12, 1, 12, 0, 30, tzinfo=UTC)


def _sleep_when_idle(world: World, app: str) -> None:
    with session_scope(world.database_url) as session:
        row = session.scalars(select(App).where(App.name == app)).one()
        owner = session.scalars(select(User).where(User.email == world.owner_email)).one()
        sleep_review_app_when_idle(session=session, app=row, actor=owner)


def _settings_and_events(world: World, app: str) -> tuple[list[tuple[str, int, int]], list[tuple[int, int]]]:
    with session_scope(world.database_url) as session:
        row = session.scalars(select(App).where(App.name == app)).one()
        settings = [
            (s.process_type, s.min_dynos, s.max_dynos) for s in list_autoscaling(session=session, app=row)
        ]
        events = [(e.from_quantity, e.to_quantity) for e in list_autoscale_events(session=session, app=row)]
    return settings, events


def test_a_review_app_is_left_alone_until_released_then_sleeps_when_idle(world: World) -> None:
    app = world.new_app()
    _sleep_when_idle(world, app)
    assert _settings_and_events(world, app) == ([("web", 0, 1)], [])
    now = [T0]
    asleep: list[str] = []
    scaler = Autoscaler(
        sessions=session_factory(world.database_url),
        metrics=FakeMetrics(),
        clock=lambda: now[0],
        idle_window=timedelta(seconds=20),
        on_asleep=lambda name, since: asleep.append(name),
    )
    for _ in range(3):
        scaler.scale_once()
        now[0] += timedelta(minutes=10)
    assert asleep == [], "an app with nothing released is never marked asleep"
    assert _settings_and_events(world, app)[1] == []

    world.release(app, {"web": WEB}, image=TEST_IMAGE)
    status, lines = world.deploy(app)
    assert status == "succeeded", lines
    assert _web(world, app) == 1
    scaler.scale_once()
    assert _web(world, app) == 1 and asleep == [], "awake within the idle window"
    now[0] += timedelta(seconds=30)
    scaler.scale_once()
    assert _web(world, app) == 0
    assert asleep == [app]
    assert _settings_and_events(world, app)[1] == [(1, 0)]
    world.converge(lambda: world.running(app) == [])
    _stop_autoscaling(world, app)


def _stop_autoscaling(world: World, app: str) -> None:
    """The world's database is shared by the tests that follow: leave no app asleep for their scalers."""
    with session_scope(world.database_url) as session:
        row = session.scalars(select(App).where(App.name == app)).one()
        owner = session.scalars(select(User).where(User.email == world.owner_email)).one()
        disable_autoscaling(session=session, app=row, actor=owner, process_type="web")
