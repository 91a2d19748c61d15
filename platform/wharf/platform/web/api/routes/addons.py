"""Add-ons: list, create (provisioned in the background), show, destroy, and one-off console commands."""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter, BackgroundTasks, Response
from pydantic import BaseModel, Field
from sqlalchemy.orm import Session

from wharf.platform.actions.addons import AddonUnavailable, add_addon, provider_errors, remove_addon
from wharf.platform.addons import AddonProviders, get_addon_providers
from wharf.platform.addons.base import KINDS
from wharf.platform.addons.lifecycle import addon_spec, get_addon, list_addons
from wharf.platform.models import Addon, App, User
from wharf.platform.web.context import ApiContext
from wharf.platform.web.deps import AdminApp, ContextDep, CurrentUser, MemberApp, SessionDep, ViewerApp

router = APIRouter(prefix="/apps/{app_name}/addons", tags=["addons"])


class AddonCreate(BaseModel):
    kind: str = Field(min_length=1, max_length=60)
    as_name: str | None = Field(default=None, alias="as", max_length=60)


class AddonPublic(BaseModel):
    name: str
    app: str
    kind: str
    title: str
    attachment: str
    status: str
    status_message: str
    created_by: str | None
    created_at: datetime
    backup_schedule: str | None
    backup_retention: int
    facts: dict[str, str] | None = None


class ConsoleCommand(BaseModel):
    command: str = Field(min_length=1, max_length=100_000)


class ConsoleOutput(BaseModel):
    exit_code: int
    output: str


def providers_for(context: ApiContext) -> AddonProviders:
    return get_addon_providers(context.settings)


def addon_public(
    addon: Addon, *, app: App, session: Session, facts: dict[str, str] | None = None
) -> AddonPublic:
    creator = session.get(User, addon.created_by_id) if addon.created_by_id else None
    return AddonPublic(
        name=addon.name,
        app=app.name,
        kind=addon.kind,
        title=KINDS[addon.kind].title,
        attachment=addon.attachment,
        status=addon.status,
        status_message=addon.status_message,
        created_by=creator.email if creator else None,
        created_at=addon.created_at,
        backup_schedule=f"daily at {addon.backup_at} UTC" if addon.backup_at else None,
        backup_retention=addon.backup_retention,
        facts=facts,
    )


@router.get("")
def list_app_addons(app: ViewerApp, session: SessionDep) -> list[AddonPublic]:
    return [addon_public(a, app=app, session=session) for a in list_addons(session=session, app=app)]


@router.post("", status_code=202)
def create_app_addon(
    body: AddonCreate,
    app: AdminApp,
    user: CurrentUser,
    session: SessionDep,
    context: ContextDep,
    background: BackgroundTasks,
) -> AddonPublic:
    """Record the add-on and answer at once; it is started after the response, then attached."""
    addon, provisioning = add_addon(
        session=session,
        cipher=context.cipher,
        providers=providers_for(context),
        database_url=context.database_url,
        app=app,
        actor=user,
        kind=body.kind,
        as_name=body.as_name,
    )
    background.add_task(provisioning)
    return addon_public(addon, app=app, session=session)


@router.get("/{addon_name}")
def show_addon(addon_name: str, app: ViewerApp, session: SessionDep, context: ContextDep) -> AddonPublic:
    addon = get_addon(session=session, app=app, name=addon_name)
    facts = None
    if addon.status == "available":
        spec = addon_spec(addon, context.cipher, app_name=app.name)
        with provider_errors():
            facts = providers_for(context).for_kind(addon.kind).info(spec)
    return addon_public(addon, app=app, session=session, facts=facts)


@router.delete("/{addon_name}", status_code=204)
def destroy_app_addon(
    addon_name: str,
    app: AdminApp,
    user: CurrentUser,
    session: SessionDep,
    context: ContextDep,
    confirm: str | None = None,
) -> Response:
    remove_addon(
        session=session,
        cipher=context.cipher,
        providers=providers_for(context),
        settings=context.settings,
        app=app,
        actor=user,
        addon_name=addon_name,
        confirm=confirm,
    )
    return Response(status_code=204)


@router.post("/{addon_name}/console")
async def run_console_command(
    addon_name: str,
    body: ConsoleCommand,
    app: MemberApp,
    user: CurrentUser,
    session: SessionDep,
    context: ContextDep,
) -> ConsoleOutput:
    """One psql or redis-cli command, run from a one-off container on the app's network.

    It may run for a minute: on the add-on operations' own threads, never on a request thread.
    """
    pool = context.addon_operations
    with pool.slot(user.id):
        return await pool.run(_run_console_command, addon_name, body, app, session, context)


def _run_console_command(
    addon_name: str, body: ConsoleCommand, app: App, session: Session, context: ApiContext
) -> ConsoleOutput:
    addon = get_addon(session=session, app=app, name=addon_name)
    if addon.status != "available":
        raise AddonUnavailable(
            f"{addon.name} is {addon.status}; wait until `wharf addons` shows it available."
        )
    spec = addon_spec(addon, context.cipher, app_name=app.name)
    with provider_errors():
        result = providers_for(context).for_kind(addon.kind).run_console(spec, body.command)
    return ConsoleOutput(exit_code=result.exit_code, output=result.output)
