"""Add-ons from the app's page: create one of a kind, or destroy one after typing its name.

Both call the actions `wharf addons:*` calls, so provisioning runs in the background after the
response exactly as it does for `wharf addons:create`.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, BackgroundTasks, Form, Response

from wharf.platform.actions.addons import add_addon, remove_addon
from wharf.platform.addons import get_addon_providers
from wharf.platform.web.dashboard.rendering import DashboardRoute, redirect
from wharf.platform.web.dashboard.session import CsrfChecked, DashboardAdminApp, DashboardUser
from wharf.platform.web.deps import ContextDep, SessionDep

router = APIRouter(prefix="/apps/{app_name}/addons", route_class=DashboardRoute, include_in_schema=False)


@router.post("", dependencies=[CsrfChecked])
def create_addon(
    session: SessionDep,
    context: ContextDep,
    user: DashboardUser,
    app: DashboardAdminApp,
    kind: Annotated[str, Form(min_length=1, max_length=60)],
) -> Response:
    _addon, provisioning = add_addon(
        session=session,
        cipher=context.cipher,
        providers=get_addon_providers(context.settings),
        database_url=context.database_url,
        app=app,
        actor=user,
        kind=kind,
    )
    background = BackgroundTasks()
    background.add_task(provisioning)
    response = redirect(f"/apps/{app.name}#addons")
    response.background = background
    return response


@router.post("/{addon_name}/destroy", dependencies=[CsrfChecked])
def destroy_addon(
    addon_name: str,
    session: SessionDep,
    context: ContextDep,
    user: DashboardUser,
    app: DashboardAdminApp,
    confirm: Annotated[str, Form(max_length=100)] = "",
) -> Response:
    remove_addon(
        session=session,
        cipher=context.cipher,
        providers=get_addon_providers(context.settings),
        settings=context.settings,
        app=app,
        actor=user,
        addon_name=addon_name,
        confirm=confirm.strip(),
    )
    return redirect(f"/apps/{app.name}#addons")
