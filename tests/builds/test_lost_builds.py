"""A build whose worker died is failed and its push told so, while a live build is left alone."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
import redis

from wharf.platform.builds import heartbeat
from wharf.platform.builds.heartbeat import LostBuilds, beating, heartbeat_key
from wharf.platform.db import session_scope
from wharf.platform.jobs import BUILD_QUEUE, build_job_id, queue_key
from wharf.platform.migrate import upgrade_database
from wharf.platform.models import App, Build, User
from wharf.platform.progress import BuildEnd, follow


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    url = f"sqlite:///{tmp_path / 'wharf.db'}"
    upgrade_database(url)
    return url


def _builds(url: str, statuses: list[str]) -> list[int]:
    with session_scope(url) as session:
        user = User(email="dev@example.com", password_hash="x")
        session.add(user)
        session.flush()
        app = App(name="lost-builds", owner_id=user.id)
        session.add(app)
        session.flush()
        builds = [Build(app_id=app.id, commit="c0ffee", status=status) for status in statuses]
        session.add_all(builds)
        session.flush()
        return [b.id for b in builds]


def test_a_build_without_heartbeat_fails_and_its_stream_ends(
    redis_client: redis.Redis[bytes], sqlite_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    lost, alive, queued, taken, starting, moved = _builds(
        sqlite_url, ["building", "building", "pending", "pending", "pending", "pending"]
    )
    redis_client.rpush(queue_key(BUILD_QUEUE), build_job_id(queued))
    # A worker took these (rq's intermediate list, then its started registry); their work horses are
    # still starting up.
    redis_client.rpush(heartbeat.INTERMEDIATE_KEY, build_job_id(moved))
    execution = f"{build_job_id(starting)}:execution-1"
    redis_client.zadd(heartbeat.STARTED_REGISTRY_KEY, {execution: time.time() + 600})
    sweeper = LostBuilds(redis_client, sqlite_url)
    with beating(redis_client, alive):
        assert sweeper.sweep() == [], "a worker that just took its job gets one sweep to start beating"
        assert sweeper.sweep() == [lost, taken]
        assert sweeper.sweep() == [], "a failed build is swept once"
    with session_scope(sqlite_url) as session:
        statuses = {b.id: (b.status, b.failure) for b in session.query(Build)}
    assert statuses[lost] == statuses[taken] == ("failed", heartbeat.LOST_MESSAGE)
    assert statuses[alive] == ("building", None)
    assert statuses[queued] == ("pending", None), "a build waiting its turn on the queue is not lost"
    assert statuses[starting] == statuses[moved] == ("pending", None), "a build being picked up is not lost"
    monkeypatch.setattr(heartbeat, "PICKUP_GRACE_SECONDS", 0)
    with beating(redis_client, alive):
        sweeper.sweep()
        assert sweeper.sweep() == [starting, moved], "a work horse that never beats is lost after the grace"
    redis_client.zrem(heartbeat.STARTED_REGISTRY_KEY, execution)
    redis_client.delete(heartbeat.INTERMEDIATE_KEY)
    followed = list(follow(redis_client, lost, idle_timeout=5))
    assert followed[-1] == BuildEnd(status="failed", release_version=None, message=heartbeat.LOST_MESSAGE)
    assert any("push again" in item for item in followed if isinstance(item, str))


def test_the_heartbeat_is_refreshed_while_the_build_runs(
    redis_client: redis.Redis[bytes], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(heartbeat, "BEAT_SECONDS", 0.1)
    monkeypatch.setattr(heartbeat, "LOST_AFTER_SECONDS", 1)
    with beating(redis_client, 7):
        time.sleep(1.5)
        assert redis_client.exists(heartbeat_key(7)), "beats outlast the key's expiry"
    assert not redis_client.exists(heartbeat_key(7)), "a finished build leaves no heartbeat"
