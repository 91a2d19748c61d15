"""Collaborators on an app and transfers: viewers list who has access, admins change it."""

from __future__ import annotations

from fastapi import APIRouter, Response

from wharf.platform.actions import access
from wharf.platform.actions.transfer import transfer_app
from wharf.platform.web.api.schemas.access import (
    AccessPublic,
    CollaboratorCreate,
    RoleUpdate,
    TransferRequest,
)
from wharf.platform.web.deps import AdminApp, ContextDep, CurrentUser, SessionDep, ViewerApp

router = APIRouter(prefix="/apps/{app_name}", tags=["access"])


def _public(item: access.Access) -> AccessPublic:
    return AccessPublic(email=item.email, role=item.role, source=item.source)


@router.get("/collaborators")
def list_access(app: ViewerApp, session: SessionDep) -> list[AccessPublic]:
    return [_public(item) for item in access.list_access(session=session, app=app)]


@router.post("/collaborators", status_code=201)
def add_collaborator(
    body: CollaboratorCreate, app: AdminApp, user: CurrentUser, session: SessionDep, context: ContextDep
) -> AccessPublic:
    added = access.add_collaborator(
        session=session,
        actor=user,
        app=app,
        email=body.email,
        role=body.role,
        limit=context.settings.wharf_max_collaborators_per_app,
    )
    return _public(added)


@router.patch("/collaborators/{email}")
def update_collaborator(
    email: str, body: RoleUpdate, app: AdminApp, user: CurrentUser, session: SessionDep
) -> AccessPublic:
    return _public(
        access.update_collaborator(session=session, actor=user, app=app, email=email, role=body.role)
    )


@router.delete("/collaborators/{email}", status_code=204)
def remove_collaborator(email: str, app: AdminApp, user: CurrentUser, session: SessionDep) -> Response:
    access.remove_collaborator(session=session, actor=user, app=app, email=email)
    return Response(status_code=204)


@router.post("/transfer")
def transfer(
    body: TransferRequest, app: AdminApp, user: CurrentUser, session: SessionDep, context: ContextDep
) -> dict[str, str]:
    receiver = transfer_app(
        session=session, actor=user, app=app, target=body.to, apps_limit=context.settings.quotas.apps_per_user
    )
    return {"app": app.name, "to": receiver}
