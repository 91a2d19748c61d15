"""Add-ons from the app's page: create one of a kind, or destroy one after typing its name.

Both go through the API's own route functions, so provisioning runs in the background after the
response exactly as it does for `wharf addons:create`.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, BackgroundTasks, Form, Response

from wharf.platform.web.api.routes import addons as api_addons
from wharf.platform.web.dashboard.rendering import DashboardRoute, redirect
from wharf.platform.web.dashboard.session import CsrfChecked, DashboardApp, DashboardUser
from wharf.platform.web.deps import ContextDep, SessionDep

router = APIRouter(prefix="/apps/{app_name}/addons", route_class=DashboardRoute, include_in_schema=False)


@router.post("", dependencies=[CsrfChecked])
def create_addon(
    session: SessionDep,
    context: ContextDep,
    user: DashboardUser,
    app: DashboardApp,
    kind: Annotated[str, Form(min_length=1, max_length=60)],
) -> Response:
    background = BackgroundTasks()
    body = api_addons.AddonCreate(kind=kind)
    api_addons.create_app_addon(
        body=body, app=app, user=user, session=session, context=context, background=background
    )
    response = redirect(f"/apps/{app.name}#addons")
    response.background = background
    return response


@router.post("/{addon_name}/destroy", dependencies=[CsrfChecked])
def destroy_addon(
    addon_name: str,
    session: SessionDep,
    context: ContextDep,
    user: DashboardUser,
    app: DashboardApp,
    confirm: Annotated[str, Form(max_length=100)] = "",
) -> Response:
    api_addons.destroy_app_addon(
        addon_name=addon_name, app=app, user=user, session=session, context=context, confirm=confirm.strip()
    )
    return redirect(f"/apps/{app.name}#addons")
