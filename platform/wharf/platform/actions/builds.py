"""A push to main or master: the build is recorded, its source exported and the build queued."""

from __future__ import annotations

from pathlib import Path

import redis

from wharf.platform.builds.pipeline import build_dir
from wharf.platform.db import session_scope
from wharf.platform.jobs import enqueue_build
from wharf.platform.models import App, User
from wharf.platform.progress import stream_key
from wharf.platform.records.builds import create_build
from wharf.platform.repos import export_commit
from wharf.platform.settings import Settings, ensure_private_dir


def start_build(
    *,
    settings: Settings,
    client: redis.Redis[bytes],
    app_name: str,
    pusher_id: int,
    repo: Path,
    commit: str,
    skip_tests: bool = False,
) -> int:
    """Record the build, export the pushed commit for the builder, and queue it; the build's id.

    SKIP_TESTS (`git push -o ci.skip`) records the push's test run as skipped and deploys.
    """
    with session_scope(settings.resolved_database_url) as session:
        app = session.query(App).filter_by(name=app_name).one()
        build = create_build(session=session, app=app, actor=session.get(User, pusher_id), commit=commit)
        build_id = build.id
    ensure_private_dir(settings.wharf_data_dir / "builds")
    source = build_dir(settings, build_id) / "source.tar"
    export_commit(repo=repo, commit=commit, destination=source)
    # A build id can repeat after the database is reset; never follow another build's output.
    client.delete(stream_key(build_id))
    enqueue_build(
        client, build_id=build_id, skip_tests=skip_tests, test_seconds=settings.wharf_test_timeout_seconds
    )
    return build_id
