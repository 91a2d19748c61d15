"""Test run records: numbered per app, with their status, exit code and the tail of their output."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from wharf.platform.db import session_scope, utcnow
from wharf.platform.errors import NotFound
from wharf.platform.models import App, Formation, Release, TestRun
from wharf.platform.testphase.manifest import TestEnvironment

FINISHED = frozenset({"succeeded", "failed", "errored", "skipped"})


def create_test_run(
    *,
    session: Session,
    app: App,
    commit: str,
    status: str = "pending",
    environment: TestEnvironment | None = None,
    build_id: int | None = None,
    image: str | None = None,
    created_by_id: int | None = None,
) -> TestRun:
    """A new run numbered after the app's last one (the caller holds the app's row lock)."""
    last = session.scalar(select(func.max(TestRun.number)).where(TestRun.app_id == app.id))
    run = TestRun(
        app_id=app.id,
        number=(last or 0) + 1,
        commit=commit,
        status=status,
        output="",
        environment=environment_record(environment) if environment else None,
        build_id=build_id,
        image=image,
        created_by_id=created_by_id,
    )
    if status in FINISHED:
        run.finished_at = utcnow()
    session.add(run)
    session.flush()
    return run


def environment_record(environment: TestEnvironment) -> dict[str, Any]:
    record = asdict(environment)
    record["env"] = [list(pair) for pair in environment.env]
    record["addons"] = list(environment.addons)
    return record


def environment_from_record(record: dict[str, Any]) -> TestEnvironment:
    return TestEnvironment(
        test=str(record["test"]),
        setup=record.get("setup"),
        env=tuple((str(k), str(v)) for k, v in record.get("env") or ()),
        addons=tuple(str(kind) for kind in record.get("addons") or ()),
    )


def list_test_runs(*, session: Session, app: App, limit: int = 100) -> list[TestRun]:
    query = select(TestRun).where(TestRun.app_id == app.id).order_by(TestRun.number.desc()).limit(limit)
    return list(session.scalars(query))


def get_test_run(*, session: Session, app: App, number: int) -> TestRun:
    run = session.scalar(select(TestRun).where(TestRun.app_id == app.id, TestRun.number == number))
    if run is None:
        raise NotFound(f"{app.name} has no test run {number}. List them with `wharf ci -a {app.name}`.")
    return run


def release_test_status(*, session: Session, release: Release) -> str | None:
    """The status of the test run a release went live after; None when the app has no tests."""
    if release.test_run_id is None:
        return None
    run = session.get(TestRun, release.test_run_id)
    return run.status if run else None


def dyno_size_for_tests(*, session: Session, app: App) -> str:
    """The tests run with the size of the app's web dynos (or its first process type's)."""
    rows = list(session.scalars(select(Formation).where(Formation.app_id == app.id)))
    web = next((row for row in rows if row.process_type == "web"), rows[0] if rows else None)
    return web.size if web else "basic"


def mark_running(database_url: str, run_id: int) -> None:
    with session_scope(database_url) as session:
        run = session.get(TestRun, run_id)
        if run is not None:
            run.status = "running"
            run.started_at = utcnow()


def finish_test_run(
    database_url: str, run_id: int, *, status: str, exit_code: int | None, message: str, output: str
) -> None:
    with session_scope(database_url) as session:
        run = session.get(TestRun, run_id)
        if run is not None:
            run.status = status
            run.exit_code = exit_code
            run.message = message[:500]
            run.output = output
            run.finished_at = utcnow()


def set_test_run_image(database_url: str, run_id: int, image: str) -> None:
    with session_scope(database_url) as session:
        run = session.get(TestRun, run_id)
        if run is not None:
            run.image = image


def record_release_of_run(*, session: Session, run_id: int | None, release: Release) -> None:
    """The run now points at the release it let go live, and runs in that release's image."""
    if run_id is None:
        return
    run = session.get(TestRun, run_id)
    if run is not None:
        run.release_version = release.version
        run.image = release.image
