"""Apps: list, create, show, destroy, and the app's activity."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response

from wharf.platform.actions import apps, roles
from wharf.platform.addons import get_addon_providers
from wharf.platform.logs import events as audit
from wharf.platform.models import App
from wharf.platform.settings import Settings
from wharf.platform.web.api.schemas.apps import AppCreate, AppPublic, EventPublic
from wharf.platform.web.deps import AdminApp, ContextDep, CurrentUser, SessionDep, ViewerApp

router = APIRouter(prefix="/apps", tags=["apps"])


def app_public(
    app: App, *, settings: Settings, request: Request, role: str | None = None, team: str | None = None
) -> AppPublic:
    base = str(request.base_url).rstrip("/")
    return AppPublic(
        id=app.id,
        name=app.name,
        owner=app.owner.email,
        web_url=settings.app_web_url(app.name),
        git_url=f"{base}/git/{app.name}.git",
        maintenance=app.maintenance,
        acm=app.acm,
        current_release=app.current_release_version,
        created_at=app.created_at,
        role=role,
        team=team,
    )


@router.get("")
def list_apps(
    user: CurrentUser, session: SessionDep, context: ContextDep, request: Request
) -> list[AppPublic]:
    visible = roles.visible_apps(session=session, user=user)
    return [
        app_public(v.app, settings=context.settings, request=request, role=v.role, team=v.team)
        for v in visible
    ]


@router.post("", status_code=201)
def create_app(
    body: AppCreate, user: CurrentUser, session: SessionDep, context: ContextDep, request: Request
) -> AppPublic:
    app = apps.create_app(
        session=session,
        cipher=context.cipher,
        client=context.redis,
        settings=context.settings,
        owner=user,
        name=body.name,
        team=body.team,
    )
    return app_public(app, settings=context.settings, request=request, role=roles.ADMIN, team=body.team)


@router.get("/{app_name}")
def show_app(
    app: ViewerApp, user: CurrentUser, session: SessionDep, context: ContextDep, request: Request
) -> AppPublic:
    team = roles.team_of(session, app)
    return app_public(
        app,
        settings=context.settings,
        request=request,
        role=roles.role_on_app(session, user=user, app=app),
        team=team.name if team else None,
    )


@router.delete("/{app_name}", status_code=204)
def destroy_app(
    app: AdminApp, user: CurrentUser, session: SessionDep, context: ContextDep, confirm: str | None = None
) -> Response:
    apps.destroy_app(
        session=session,
        cipher=context.cipher,
        client=context.redis,
        settings=context.settings,
        providers=get_addon_providers(context.settings),
        actor=user,
        app=app,
        confirm=confirm,
    )
    return Response(status_code=204)


@router.get("/{app_name}/activity")
def activity(app: ViewerApp, session: SessionDep) -> list[EventPublic]:
    events = audit.list_app_events(session=session, app_name=app.name, since=app.created_at)
    return [
        EventPublic(id=e.id, actor=e.actor_email, action=e.action, message=e.message, created_at=e.created_at)
        for e in events
    ]
