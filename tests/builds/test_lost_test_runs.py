"""A test run whose worker died is failed, with why, for `wharf ci` and its push; a live one is left alone."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
import redis
from sqlalchemy import select
from sqlalchemy.orm import Session

from wharf.platform.builds import heartbeat
from wharf.platform.builds.heartbeat import LostBuilds, beating
from wharf.platform.builds.lost_test_runs import LostTestRuns
from wharf.platform.db import session_scope
from wharf.platform.heartbeats import beating_key
from wharf.platform.jobs import BUILD_QUEUE, queue_key, rerun_job_id
from wharf.platform.migrate import upgrade_database
from wharf.platform.models import App, Build, TestRun, User
from wharf.platform.progress import BuildEnd, follow
from wharf.platform.testphase import lost as lost_runs
from wharf.platform.testphase.lost import run_heartbeat_key


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    url = f"sqlite:///{tmp_path / 'wharf.db'}"
    upgrade_database(url)
    return url


def _app(session: Session) -> App:
    user = User(email="dev@example.com", password_hash="x")
    session.add(user)
    session.flush()
    app = App(name="lost-runs", owner_id=user.id)
    session.add(app)
    session.flush()
    return app


def _runs(
    url: str, build_statuses: list[str], runs: list[tuple[str, int | None]]
) -> tuple[list[int], list[int]]:
    """Builds with these statuses, then runs (status, index of their build or None for none)."""
    with session_scope(url) as session:
        app = _app(session)
        builds = [Build(app_id=app.id, commit="c0ffee", status=status) for status in build_statuses]
        session.add_all(builds)
        session.flush()
        records = [
            TestRun(
                app_id=app.id,
                number=number,
                commit="c0ffee",
                status=status,
                output="",
                build_id=None if build is None else builds[build].id,
            )
            for number, (status, build) in enumerate(runs, start=1)
        ]
        session.add_all(records)
        session.flush()
        return [b.id for b in builds], [r.id for r in records]


def _statuses(url: str) -> dict[int, tuple[str, str | None]]:
    with session_scope(url) as session:
        return {r.id: (r.status, r.message) for r in session.scalars(select(TestRun))}


def test_a_rerun_whose_worker_died_is_failed_with_the_reason(
    redis_client: redis.Redis[bytes], sqlite_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    finished, building = 0, 1  # indexes of the builds
    (_, building_id), runs = _runs(
        sqlite_url,
        ["failed", "building"],
        [
            ("running", finished),  # a rerun whose worker died
            ("running", None),  # a rerun still beating
            ("pending", None),  # waiting its turn on the queue
            ("pending", None),  # taken by a worker, its work horse starting
            ("running", building),  # in the test phase of a build still beating
            ("pending", finished),  # taken off the queue and lost
        ],
    )
    dead, alive, queued, starting, in_build, vanished = runs
    redis_client.rpush(queue_key(BUILD_QUEUE), rerun_job_id(queued))
    redis_client.rpush(heartbeat.INTERMEDIATE_KEY, rerun_job_id(starting))
    sweeper = LostTestRuns(redis_client, sqlite_url)
    with (
        beating_key(redis_client, run_heartbeat_key(alive), every=10, expires=30),
        beating(redis_client, building_id),
    ):
        assert sweeper.sweep() == [], "a worker that just took its job gets one sweep to start beating"
        assert sweeper.sweep() == [dead, vanished]
        assert sweeper.sweep() == [], "a failed run is swept once"
        statuses = _statuses(sqlite_url)
        assert statuses[dead] == statuses[vanished] == ("failed", lost_runs.LOST_MESSAGE)
        assert "wharf ci:rerun" in lost_runs.LOST_MESSAGE, "the reason says what to do"
        assert statuses[alive][0] == statuses[in_build][0] == "running"
        assert statuses[queued][0] == statuses[starting][0] == "pending"
        monkeypatch.setattr(heartbeat, "PICKUP_GRACE_SECONDS", 0)
        sweeper.sweep()
        assert sweeper.sweep() == [starting], "a work horse that never beats is lost after the grace"
    redis_client.delete(heartbeat.INTERMEDIATE_KEY, queue_key(BUILD_QUEUE))


def test_the_run_of_a_lost_build_fails_with_it_and_its_push_is_told(
    redis_client: redis.Redis[bytes], sqlite_url: str
) -> None:
    (building,), (run,) = _runs(sqlite_url, ["building"], [("running", 0)])
    sweeper = LostBuilds(redis_client, sqlite_url)
    sweeper.sweep()
    assert sweeper.sweep() == [building]
    assert _statuses(sqlite_url)[run] == ("failed", lost_runs.LOST_MESSAGE)
    followed = list(follow(redis_client, building, idle_timeout=5))
    assert any("Test run 1 did not finish" in item for item in followed if isinstance(item, str))
    assert followed[-1] == BuildEnd(status="failed", release_version=None, message=heartbeat.LOST_MESSAGE)


def test_a_rerun_beats_while_it_runs(redis_client: redis.Redis[bytes]) -> None:
    with beating_key(redis_client, run_heartbeat_key(9), every=0.1, expires=1):
        time.sleep(1.5)
        assert redis_client.exists(run_heartbeat_key(9))
    assert not redis_client.exists(run_heartbeat_key(9))
