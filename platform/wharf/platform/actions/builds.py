"""A push to main or master: the build is recorded, its source exported and the build queued."""

from __future__ import annotations

from pathlib import Path

import redis

from wharf.platform.builds.compile import BuildFailed
from wharf.platform.builds.disk_space import ensure_room, out_of_space_message, ran_out_of_space
from wharf.platform.builds.pipeline import build_dir, remove_build_dir
from wharf.platform.db import session_scope, utcnow
from wharf.platform.jobs import enqueue_build
from wharf.platform.models import App, Build, User
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

    On a host whose disk is full or nearly (under WHARF_BUILD_MIN_FREE_MB free), the build is
    recorded failed and BuildFailed says what to do.

    SKIP_TESTS (`git push -o ci.skip`) records the push's test run as skipped and deploys.
    """
    with session_scope(settings.resolved_database_url) as session:
        app = session.query(App).filter_by(name=app_name).one()
        build = create_build(session=session, app=app, actor=session.get(User, pusher_id), commit=commit)
        build_id = build.id
    builds = ensure_private_dir(settings.wharf_data_dir / "builds")
    try:
        ensure_room(builds, settings.wharf_build_min_free_mb)
        export_commit(repo=repo, commit=commit, destination=build_dir(settings, build_id) / "source.tar")
    except (BuildFailed, OSError) as error:
        if not isinstance(error, BuildFailed) and not ran_out_of_space(error, ()):
            raise
        message = str(error) if isinstance(error, BuildFailed) else out_of_space_message(builds)
        _refuse(settings, build_id, message)
        raise BuildFailed(message) from error
    # A build id can repeat after the database is reset; never follow another build's output.
    client.delete(stream_key(build_id))
    enqueue_build(
        client, build_id=build_id, skip_tests=skip_tests, test_seconds=settings.wharf_test_timeout_seconds
    )
    return build_id


def _refuse(settings: Settings, build_id: int, message: str) -> None:
    """The build never starts: recorded failed with MESSAGE, and what it wrote removed."""
    remove_build_dir(settings, build_id)
    with session_scope(settings.resolved_database_url) as session:
        build = session.get(Build, build_id)
        if build is not None:
            build.status, build.failure, build.finished_at = "failed", message, utcnow()
