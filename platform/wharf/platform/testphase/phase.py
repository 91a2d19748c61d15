"""The test phase of a push or a rerun: record the run, run it, keep its outcome and its image."""

from __future__ import annotations

from dataclasses import dataclass

import redis

from wharf.platform.db import session_scope
from wharf.platform.heartbeats import beating_key
from wharf.platform.models import App, Build, TestRun
from wharf.platform.records.releases import lock_app
from wharf.platform.settings import Settings, get_settings
from wharf.platform.testphase.lost import BEAT_SECONDS, LOST_AFTER_SECONDS, run_heartbeat_key
from wharf.platform.testphase.manifest import TestEnvironment
from wharf.platform.testphase.records import (
    create_test_run,
    dyno_size_for_tests,
    environment_from_record,
    finish_test_run,
    mark_running,
)
from wharf.platform.testphase.runner import TestOutcome, TestTarget, Write, run_tests


@dataclass(frozen=True)
class PhaseResult:
    run_id: int
    number: int
    status: str
    message: str

    @property
    def passed(self) -> bool:
        return self.status in ("succeeded", "skipped")


def run_build_tests(
    settings: Settings,
    *,
    build_id: int,
    image: str,
    environment: TestEnvironment,
    skip: bool,
    write: Write,
) -> PhaseResult:
    """Record a run for the build's commit and run it (or record it skipped, for `-o ci.skip`)."""
    with session_scope(settings.resolved_database_url) as session:
        build = session.get(Build, build_id)
        assert build is not None
        app = session.get(App, build.app_id)
        assert app is not None
        lock_app(session=session, app=app)
        run = create_test_run(
            session=session,
            app=app,
            commit=build.commit,
            status="skipped" if skip else "pending",
            environment=environment,
            build_id=build.id,
            image=image,
            created_by_id=build.created_by_id,
        )
        if skip:
            run.message = "Skipped: pushed with -o ci.skip"
        target = TestTarget(
            app=app.name, number=run.number, image=image, size=dyno_size_for_tests(session=session, app=app)
        )
        run_id = run.id
    if skip:
        write(f"-----> Tests skipped (git push -o ci.skip); recorded as test run {target.number}")
        return PhaseResult(run_id, target.number, "skipped", "Skipped: pushed with -o ci.skip")
    outcome = _run(settings, run_id, target, environment, write)
    return PhaseResult(run_id, target.number, outcome.status, outcome.message)


def rerun(settings: Settings, run_id: int) -> str:
    """Run a recorded (pending) rerun: the same image and commands as the run it repeats."""
    with session_scope(settings.resolved_database_url) as session:
        run = session.get(TestRun, run_id)
        if run is None or run.status != "pending" or run.image is None or run.environment is None:
            return "gone"
        app = session.get(App, run.app_id)
        assert app is not None
        environment = environment_from_record(run.environment)
        target = TestTarget(
            app=app.name,
            number=run.number,
            image=run.image,
            size=dyno_size_for_tests(session=session, app=app),
        )
    return _run(settings, run_id, target, environment, lambda _line: None).status


def _run(
    settings: Settings, run_id: int, target: TestTarget, environment: TestEnvironment, write: Write
) -> TestOutcome:
    mark_running(settings.resolved_database_url, run_id)
    try:
        outcome = run_tests(settings, target, environment, write)
    except Exception as error:
        outcome = TestOutcome("errored", None, f"The test run could not finish: {type(error).__name__}")
        finish_test_run(
            settings.resolved_database_url,
            run_id,
            status=outcome.status,
            exit_code=None,
            message=outcome.message,
            output="",
        )
        raise
    finish_test_run(
        settings.resolved_database_url,
        run_id,
        status=outcome.status,
        exit_code=outcome.exit_code,
        message=outcome.message,
        output=outcome.output,
    )
    return outcome


def run_test_rerun(test_run_id: int) -> str:
    """The rq job of `wharf ci:rerun`: the worker's entry point, so it reads the process settings.

    It beats the run's heartbeat while it runs, so that a worker dying mid-run leaves it found lost."""
    settings = get_settings()
    client = redis.Redis.from_url(settings.resolved_redis_url)
    try:
        with beating_key(
            client, run_heartbeat_key(test_run_id), every=BEAT_SECONDS, expires=LOST_AFTER_SECONDS
        ):
            return rerun(settings, test_run_id)
    finally:
        client.close()
