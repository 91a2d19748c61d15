"""`wharf ci:rerun [N]`: run a recorded test run's commands again in the very same image."""

from __future__ import annotations

import redis
from sqlalchemy import select
from sqlalchemy.orm import Session

from wharf.platform.errors import BadRequest, Conflict
from wharf.platform.jobs import TEST_RUN_MARGIN, enqueue_test_rerun
from wharf.platform.models import App, TestRun, User
from wharf.platform.records.releases import lock_app
from wharf.platform.settings import Settings
from wharf.platform.testphase.records import create_test_run, get_test_run, list_test_runs


def rerun_test_run(
    *,
    session: Session,
    settings: Settings,
    client: redis.Redis[bytes],
    app: App,
    actor: User,
    number: int | None,
) -> TestRun:
    """A new pending run with run NUMBER's (default: the latest's) image and commands, queued."""
    lock_app(session=session, app=app)
    if number is None:
        latest = list_test_runs(session=session, app=app, limit=1)
        if not latest:
            raise BadRequest(
                f"{app.name} has no test runs yet: add environments.test.scripts.test to app.json and push.",
                error_id="no_test_runs",
            )
        source = latest[0]
    else:
        source = get_test_run(session=session, app=app, number=number)
    busy = session.scalar(
        select(TestRun.number).where(TestRun.app_id == app.id, TestRun.status.in_(("pending", "running")))
    )
    if busy is not None:
        raise Conflict(
            f"Test run {busy} of {app.name} has not finished yet; rerun it once it has "
            f"(see `wharf ci -a {app.name}`).",
            error_id="test_run_busy",
        )
    if source.image is None or source.environment is None:
        raise BadRequest(
            f"Test run {source.number} has no image to run again; push again to test this commit.",
            error_id="no_test_image",
        )
    run = create_test_run(
        session=session,
        app=app,
        commit=source.commit,
        environment=None,
        build_id=source.build_id,
        image=source.image,
        created_by_id=actor.id,
    )
    run.environment = dict(source.environment)
    run.message = f"Rerun of test run {source.number}"
    session.commit()
    timeout = int(settings.wharf_test_timeout_seconds) + TEST_RUN_MARGIN
    enqueue_test_rerun(client, test_run_id=run.id, timeout=timeout)
    return run
