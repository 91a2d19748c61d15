"""The evaluator on a fake metrics reader and a fake clock: firing after N minutes, repeats no more often
than the user's setting, resolving, memory against the dyno size, and failed deploys from the builds."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from tests.alerts.fakes import FakeMetrics, minute
from tests.scheduler.test_reconciler import deployed_app
from tests.utils.scheduler_world import CIPHER, World
from wharf.platform.actions.alerts import AlertRequest, add_alert
from wharf.platform.alerts.delivery import Notification
from wharf.platform.alerts.evaluator import AlertEvaluator
from wharf.platform.db import session_factory, session_scope
from wharf.platform.models import App, Build, User

T0 = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)


class Harness:
    def __init__(self, world: World) -> None:
        self.world = world
        self.metrics = FakeMetrics()
        self.now = T0
        self.sent: list[Notification] = []
        self.evaluator = AlertEvaluator(
            sessions=session_factory(world.database_url),
            cipher=CIPHER,
            metrics=self.metrics,
            dynos=lambda name: world.runtime.list_dynos(name),
            notify=self.sent.append,
            clock=lambda: self.now,
        )

    def add(self, app: str, request: AlertRequest) -> int:
        with session_scope(self.world.database_url) as session:
            row = session.scalars(select(App).where(App.name == app)).one()
            owner = session.scalars(select(User).where(User.email == self.world.owner_email)).one()
            alert, _ = add_alert(
                session=session, app=row, actor=owner, cipher=CIPHER, request=request, limit=20
            )
            return alert.id

    def last(self, app: str) -> Notification:
        return [n for n in self.sent if n.app == app][-1]

    def minute(self, app: str, process_type: str | None = None, **fields: float) -> list[tuple[str, str]]:
        """Record the minute that just ended, evaluate, move the clock on; (kind, state) of what was sent."""
        requests = int(fields.pop("requests", 100))
        p95 = fields.pop("p95", 50.0)
        errors = int(fields.pop("errors", 0))
        rss = fields.pop("rss", None)
        self.metrics.add(
            app, minute(self.now, requests=requests, p95=p95, errors=errors, rss=rss), process_type
        )
        self.now += timedelta(minutes=1)
        # The database is shared with other tests' apps and alerts: only this app's news counts.
        return [(n.kind, n.state) for n in self.evaluator.evaluate_once() if n.app == app]


def test_p95_fires_after_its_minutes_repeats_at_the_users_interval_and_resolves(world: World) -> None:
    app = deployed_app(world)
    harness = Harness(world)
    harness.add(
        app, AlertRequest(kind="p95", email="a@example.com", threshold=500, for_minutes=3, repeat_minutes=5)
    )
    assert harness.minute(app, p95=900) == []
    assert harness.minute(app, p95=900) == []
    assert harness.minute(app, p95=900) == [("p95", "firing")]
    assert [harness.minute(app, p95=900) for _ in range(4)] == [[], [], [], []]
    assert harness.minute(app, p95=900) == [("p95", "firing")], "repeated after 5 minutes"
    assert harness.minute(app, p95=120) == [("p95", "resolved")]
    assert harness.minute(app, p95=120) == []
    assert "p95 is under 500 ms (120 ms)" in harness.last(app).detail


def test_errors_and_memory_read_their_series(world: World) -> None:
    app = deployed_app(world)
    harness = Harness(world)
    harness.add(app, AlertRequest(kind="errors", email="a@example.com", threshold=10, for_minutes=2))
    harness.add(app, AlertRequest(kind="memory", email="a@example.com", threshold=80, for_minutes=1))
    assert harness.minute(app, errors=50) == []
    assert harness.minute(app, errors=50) == [("errors", "firing")]
    # web is a basic dyno: 512 MB. 450 MB is 88%.
    harness.metrics.add(app, minute(harness.now, requests=1, p95=1, rss=450), "web")
    assert harness.minute(app, errors=0) == [("errors", "resolved"), ("memory", "firing")]
    assert "web: Memory over 80% of 512 MB" in harness.last(app).detail
    assert harness.metrics.calls[-1] == (app, "web")


def test_a_failed_build_fires_the_deploy_alert_and_a_good_one_resolves_it(world: World) -> None:
    app = deployed_app(world)
    harness = Harness(world)
    harness.add(app, AlertRequest(kind="deploy", email="a@example.com"))
    assert harness.minute(app) == []
    with session_scope(world.database_url) as session:
        row = session.scalars(select(App).where(App.name == app)).one()
        session.add(Build(app_id=row.id, status="failed", commit="a" * 40, failure="No buildpack detected"))
    assert harness.minute(app) == [("deploy", "firing")]
    assert "No buildpack detected" in harness.last(app).detail
    with session_scope(world.database_url) as session:
        row = session.scalars(select(App).where(App.name == app)).one()
        session.add(Build(app_id=row.id, status="succeeded", commit="b" * 40))
    assert harness.minute(app) == [("deploy", "resolved")]
