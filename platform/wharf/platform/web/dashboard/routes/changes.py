"""Changes to an app from its page: config vars, scaling, restarts, rollback, domains, automatic
certificates, maintenance.

Each calls the same action the API calls, with the same user and app, then redirects back to the
app's page.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Response

from wharf.platform.actions import config, domains, dynos, formation
from wharf.platform.actions.rollback import rollback as rollback_release
from wharf.platform.errors import BadRequest
from wharf.platform.records import releases
from wharf.platform.web.dashboard.rendering import DashboardRoute, redirect
from wharf.platform.web.dashboard.session import CsrfChecked, DashboardAdminApp, DashboardApp, DashboardUser
from wharf.platform.web.deps import ContextDep, SessionDep

router = APIRouter(prefix="/apps/{app_name}", route_class=DashboardRoute, include_in_schema=False)

ConfigKey = Annotated[str, Form(min_length=1, max_length=128)]


def back_to(app_name: str, section: str, query: str = "") -> Response:
    return redirect(f"/apps/{app_name}{query}#{section}")


@router.post("/config", dependencies=[CsrfChecked])
def set_config_var(
    session: SessionDep,
    context: ContextDep,
    user: DashboardUser,
    app: DashboardApp,
    key: ConfigKey,
    value: Annotated[str, Form(max_length=releases.MAX_VALUE_BYTES)] = "",
    reveal: Annotated[str, Form()] = "",
) -> Response:
    config.update_config(session=session, cipher=context.cipher, app=app, actor=user, changes={key: value})
    return back_to(app.name, "config", "?reveal=config" if reveal == "config" else "")


@router.post("/config/unset", dependencies=[CsrfChecked])
def unset_config_var(
    session: SessionDep,
    context: ContextDep,
    user: DashboardUser,
    app: DashboardApp,
    key: ConfigKey,
) -> Response:
    config.update_config(session=session, cipher=context.cipher, app=app, actor=user, changes={key: None})
    return back_to(app.name, "config")


@router.post("/formation", dependencies=[CsrfChecked])
def scale(
    session: SessionDep,
    user: DashboardUser,
    app: DashboardApp,
    process_type: Annotated[str, Form(alias="type", min_length=1, max_length=30)],
    quantity: Annotated[int, Form(ge=0, le=formation.MAX_QUANTITY)],
    size: Annotated[str | None, Form(max_length=20)] = None,
) -> Response:
    """Formation PATCH semantics: only this process type changes, and only what the form sent."""
    change = formation.FormationChange(process_type=process_type, quantity=quantity, size=size or None)
    formation.update_formation(session=session, app=app, actor=user, changes=[change])
    return back_to(app.name, "dynos")


@router.post("/dynos/restart", dependencies=[CsrfChecked])
def restart(
    session: SessionDep,
    context: ContextDep,
    user: DashboardUser,
    app: DashboardApp,
    process_type: Annotated[str, Form(alias="type", max_length=60)] = "",
) -> Response:
    dynos.restart_dynos(
        session=session, client=context.redis, app=app, actor=user, target=process_type or None
    )
    return back_to(app.name, "dynos")


@router.post("/releases/rollback", dependencies=[CsrfChecked])
def rollback(
    session: SessionDep,
    context: ContextDep,
    user: DashboardUser,
    app: DashboardApp,
    version: Annotated[int, Form(ge=1)],
) -> Response:
    rollback_release(
        session=session, cipher=context.cipher, client=context.redis, app=app, actor=user, version=version
    )
    return back_to(app.name, "releases")


@router.post("/domains", dependencies=[CsrfChecked])
def add_domain(
    session: SessionDep,
    context: ContextDep,
    user: DashboardUser,
    app: DashboardAdminApp,
    hostname: Annotated[str, Form(min_length=1, max_length=253)],
) -> Response:
    domains.add_domain(
        session=session,
        client=context.redis,
        settings=context.settings,
        app=app,
        actor=user,
        hostname=hostname,
    )
    return back_to(app.name, "domains")


@router.post("/domains/remove", dependencies=[CsrfChecked])
def remove_domain(
    session: SessionDep,
    context: ContextDep,
    user: DashboardUser,
    app: DashboardAdminApp,
    hostname: Annotated[str, Form(min_length=1, max_length=253)],
) -> Response:
    domains.remove_domain(
        session=session,
        client=context.redis,
        settings=context.settings,
        app=app,
        actor=user,
        hostname=hostname,
    )
    return back_to(app.name, "domains")


@router.post("/acm", dependencies=[CsrfChecked])
def set_acm(
    session: SessionDep,
    context: ContextDep,
    user: DashboardUser,
    app: DashboardAdminApp,
    enabled: Annotated[str, Form()],
) -> Response:
    if enabled not in ("on", "off"):
        raise BadRequest("Automatic certificates are either on or off.", error_id="invalid_acm")
    domains.set_acm(
        session=session,
        client=context.redis,
        settings=context.settings,
        app=app,
        actor=user,
        enabled=enabled == "on",
    )
    return back_to(app.name, "domains")


@router.post("/maintenance", dependencies=[CsrfChecked])
def set_maintenance(
    session: SessionDep,
    context: ContextDep,
    user: DashboardUser,
    app: DashboardApp,
    enabled: Annotated[str, Form()],
) -> Response:
    if enabled not in ("on", "off"):
        raise BadRequest("Maintenance mode is either on or off.", error_id="invalid_maintenance")
    domains.set_maintenance(
        session=session,
        client=context.redis,
        settings=context.settings,
        app=app,
        actor=user,
        enabled=enabled == "on",
    )
    return back_to(app.name, "maintenance")
