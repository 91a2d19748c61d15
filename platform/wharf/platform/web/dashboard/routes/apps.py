"""The app list, an app's page, creating and destroying apps, and a build's output."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request, Response

from wharf.platform.actions import apps, roles
from wharf.platform.addons import get_addon_providers
from wharf.platform.records import builds
from wharf.platform.testphase import records as test_records
from wharf.platform.web.dashboard.rendering import DashboardRoute, redirect, render
from wharf.platform.web.dashboard.sections import app_page_context
from wharf.platform.web.dashboard.session import (
    CsrfChecked,
    DashboardAdminApp,
    DashboardUser,
    DashboardViewerApp,
)
from wharf.platform.web.deps import ContextDep, RowId, SessionDep

router = APIRouter(route_class=DashboardRoute, include_in_schema=False)


@router.get("/apps")
def app_list(request: Request, session: SessionDep, user: DashboardUser) -> Response:
    visible = roles.visible_apps(session=session, user=user)
    return render(request, "apps.html", {"user": user, "apps": [v.app for v in visible], "visible": visible})


@router.post("/apps", dependencies=[CsrfChecked])
def create_app(
    session: SessionDep,
    context: ContextDep,
    user: DashboardUser,
    name: Annotated[str, Form(max_length=100)] = "",
) -> Response:
    app = apps.create_app(
        session=session,
        cipher=context.cipher,
        client=context.redis,
        settings=context.settings,
        owner=user,
        name=name or None,
    )
    return redirect(f"/apps/{app.name}")


@router.get("/apps/{app_name}")
def app_page(
    request: Request,
    session: SessionDep,
    context: ContextDep,
    user: DashboardUser,
    app: DashboardViewerApp,
    reveal: str = "",
) -> Response:
    role = roles.role_on_app(session, user=user, app=app)
    member = roles.at_least(role, roles.MEMBER)
    # Viewers see config names, never values.
    page = app_page_context(
        session=session, context=context, app=app, reveal_config=member and reveal == "config"
    )
    page["user"] = user
    page["role"] = role
    page["can_change"] = member
    page["can_admin"] = roles.at_least(role, roles.ADMIN)
    return render(request, "app.html", page)


@router.post("/apps/{app_name}/destroy", dependencies=[CsrfChecked])
def destroy_app(
    session: SessionDep,
    context: ContextDep,
    user: DashboardUser,
    app: DashboardAdminApp,
    confirm: Annotated[str, Form(max_length=100)] = "",
) -> Response:
    apps.destroy_app(
        session=session,
        cipher=context.cipher,
        client=context.redis,
        settings=context.settings,
        providers=get_addon_providers(context.settings),
        actor=user,
        app=app,
        confirm=confirm.strip(),
    )
    return redirect("/apps")


@router.get("/apps/{app_name}/test-runs/{number}")
def test_run_page(
    request: Request, number: RowId, session: SessionDep, user: DashboardUser, app: DashboardViewerApp
) -> Response:
    run = test_records.get_test_run(session=session, app=app, number=number)
    return render(request, "test_run.html", {"user": user, "app": app, "run": run})


@router.get("/apps/{app_name}/builds/{build_id}")
def build_page(
    request: Request, build_id: int, session: SessionDep, user: DashboardUser, app: DashboardViewerApp
) -> Response:
    build = builds.get_build(session=session, app=app, build_id=build_id)
    return render(request, "build.html", {"user": user, "app": app, "build": build})
