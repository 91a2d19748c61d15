"""`wharf releases:rollback [vN]`: a new release from an old one, deployed by the scheduler."""

from __future__ import annotations

from fastapi import APIRouter, status
from pydantic import BaseModel, Field

from wharf.platform.actions.rollback import rollback as rollback_release
from wharf.platform.web.api.routes.releases import release_public
from wharf.platform.web.api.schemas.apps import ReleasePublic
from wharf.platform.web.deps import MAX_ROW_ID, ContextDep, CurrentUser, MemberApp, SessionDep

router = APIRouter(prefix="/apps/{app_name}/releases", tags=["releases"])


class RollbackRequest(BaseModel):
    version: int | None = Field(default=None, ge=0, le=MAX_ROW_ID)


@router.post("/rollback", status_code=status.HTTP_201_CREATED)
def rollback(
    body: RollbackRequest, app: MemberApp, user: CurrentUser, session: SessionDep, context: ContextDep
) -> ReleasePublic:
    release = rollback_release(
        session=session,
        cipher=context.cipher,
        client=context.redis,
        app=app,
        actor=user,
        version=body.version,
    )
    return release_public(release, app=app, session=session)
