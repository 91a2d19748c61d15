"""Test runs of an app (app.json `environments.test`), newest first, and reruns of them."""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter, status
from pydantic import BaseModel

from wharf.platform.actions.test_runs import rerun_test_run
from wharf.platform.models import TestRun, User
from wharf.platform.testphase import records
from wharf.platform.web.deps import AppDep, ContextDep, CurrentUser, RowId, SessionDep, ViewerApp

router = APIRouter(prefix="/apps/{app_name}/test-runs", tags=["test runs"])


class TestRunPublic(BaseModel):
    number: int
    status: str
    commit: str
    exit_code: int | None
    message: str | None
    release: int | None
    created_by: str | None
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None


class TestRunWithOutput(TestRunPublic):
    output: str


def run_public(run: TestRun, *, session: SessionDep) -> TestRunPublic:
    creator = session.get(User, run.created_by_id) if run.created_by_id else None
    return TestRunPublic(
        number=run.number,
        status=run.status,
        commit=run.commit,
        exit_code=run.exit_code,
        message=run.message,
        release=run.release_version,
        created_by=creator.email if creator else None,
        created_at=run.created_at,
        started_at=run.started_at,
        finished_at=run.finished_at,
    )


@router.get("")
def list_test_runs(app: ViewerApp, session: SessionDep) -> list[TestRunPublic]:
    return [run_public(run, session=session) for run in records.list_test_runs(session=session, app=app)]


@router.get("/{number}")
def show_test_run(number: RowId, app: ViewerApp, session: SessionDep) -> TestRunWithOutput:
    run = records.get_test_run(session=session, app=app, number=number)
    return TestRunWithOutput(**run_public(run, session=session).model_dump(), output=run.output)


@router.post("/{number}/rerun", status_code=status.HTTP_202_ACCEPTED)
def rerun(
    number: RowId, app: AppDep, user: CurrentUser, session: SessionDep, context: ContextDep
) -> TestRunPublic:
    run = rerun_test_run(
        session=session, settings=context.settings, client=context.redis, app=app, actor=user, number=number
    )
    return run_public(run, session=session)
