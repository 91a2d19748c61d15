"""Dynos: `wharf ps` (from the runtime's labels, not the database), restarts, stops, detached runs."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, status
from pydantic import BaseModel, Field

from wharf.platform.actions import dynos
from wharf.platform.autoscale.sleep import sleeping_statuses
from wharf.platform.runtime import Runtime
from wharf.platform.web.deps import ContextDep, CurrentUser, MemberApp, SessionDep, ViewerApp

router = APIRouter(prefix="/apps/{app_name}/dynos", tags=["dynos"])


def get_runtime_dep(context: ContextDep) -> Runtime:
    return dynos.runtime_for(context.settings)


RuntimeDep = Annotated[Runtime, Depends(get_runtime_dep)]


class DynoPublic(BaseModel):
    name: str
    type: str
    state: str
    since: datetime | None
    release: int
    command: str
    size: str
    restarts: int
    exit_code: int | None
    oneoff: bool


class RestartRequest(BaseModel):
    target: str | None = Field(default=None, max_length=60, description="A process type, a dyno, or all.")


class RunRequest(BaseModel):
    command: str = Field(min_length=1, max_length=10000)
    size: str = "basic"


def _public(item: dynos.DynoStatus) -> DynoPublic:
    return DynoPublic(**item.__dict__)


@router.get("")
def list_dynos(
    app: ViewerApp, runtime: RuntimeDep, session: SessionDep, context: ContextDep
) -> list[DynoPublic]:
    """The running dynos, and a sleeping web type (autoscaled to zero) as one "sleeping" entry."""
    found = dynos.list_dyno_statuses(runtime, app.name)
    found += sleeping_statuses(session=session, client=context.redis, app=app, dynos=found)
    return [_public(d) for d in found]


@router.post("/restart", status_code=status.HTTP_202_ACCEPTED)
def restart(
    body: RestartRequest, app: MemberApp, user: CurrentUser, session: SessionDep, context: ContextDep
) -> dict[str, str]:
    dynos.restart_dynos(session=session, client=context.redis, app=app, actor=user, target=body.target)
    return {"message": f"Restarting {body.target or 'all'} dynos on {app.name}"}


@router.post("/{dyno_name}/stop", status_code=status.HTTP_202_ACCEPTED)
def stop(dyno_name: str, app: MemberApp, runtime: RuntimeDep, context: ContextDep) -> dict[str, str]:
    dynos.stop_dyno(runtime, context.redis, app, dyno_name)
    return {"message": f"Stopping {dyno_name} on {app.name}"}


@router.post("", status_code=status.HTTP_201_CREATED)
def run_detached(
    body: RunRequest, app: MemberApp, session: SessionDep, runtime: RuntimeDep, context: ContextDep
) -> DynoPublic:
    release = dynos.current_release_target(session, context.cipher, app)
    started = dynos.start_detached(runtime, context.redis, release, app, body.command, body.size)
    return _public(started)
