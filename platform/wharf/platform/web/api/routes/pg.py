"""Postgres backups: capture, list, download, restore (after saying what it overwrites), schedule."""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter
from fastapi.responses import FileResponse
from pydantic import BaseModel, Field
from sqlalchemy.orm import Session

from wharf.platform.actions.addons import provider_errors
from wharf.platform.addons import backups
from wharf.platform.addons.lifecycle import get_addon
from wharf.platform.errors import NotFound
from wharf.platform.models import AddonBackup, App, User
from wharf.platform.web.api.routes.addons import AddonPublic, addon_public, providers_for
from wharf.platform.web.context import ApiContext
from wharf.platform.web.deps import AdminApp, ContextDep, CurrentUser, MemberApp, SessionDep, ViewerApp

router = APIRouter(prefix="/apps/{app_name}/addons/{addon_name}", tags=["postgres"])


class BackupPublic(BaseModel):
    id: str
    addon: str
    status: str
    scheduled: bool
    size_bytes: int | None
    sha256: str | None
    failure: str | None
    created_at: datetime
    finished_at: datetime | None


class RestorePreview(BaseModel):
    backup: BackupPublic
    database: str
    overwrites: list[str]
    confirm: str


class RestoreRequest(BaseModel):
    confirm: str | None = None


class ScheduleUpdate(BaseModel):
    at: str | None = Field(default=None, max_length=5)
    retention: int | None = None


def backup_public(backup: AddonBackup, addon_name: str) -> BackupPublic:
    return BackupPublic(
        id=backup.label,
        addon=addon_name,
        status=backup.status,
        scheduled=backup.scheduled,
        size_bytes=backup.size_bytes,
        sha256=backup.sha256,
        failure=backup.failure,
        created_at=backup.created_at,
        finished_at=backup.finished_at,
    )


@router.get("/backups")
def list_backups(addon_name: str, app: ViewerApp, session: SessionDep) -> list[BackupPublic]:
    addon = get_addon(session=session, app=app, name=addon_name, kind="postgres")
    return [backup_public(b, addon.name) for b in backups.list_backups(session=session, addon=addon)]


@router.post("/backups", status_code=201)
async def capture_backup(
    addon_name: str, app: MemberApp, user: CurrentUser, session: SessionDep, context: ContextDep
) -> BackupPublic:
    """Dump the database now; the dump runs on the add-on operations' threads, not a request thread."""
    pool = context.addon_operations
    with pool.slot(user.id):
        return await pool.run(_capture_backup, addon_name, app, user, session, context)


def _capture_backup(
    addon_name: str, app: App, user: User, session: Session, context: ApiContext
) -> BackupPublic:
    addon = get_addon(session=session, app=app, name=addon_name, kind="postgres")
    with provider_errors():
        backup = backups.capture_backup(
            session=session,
            cipher=context.cipher,
            providers=providers_for(context),
            addon=addon,
            root=context.settings.backups_dir,
            actor=user,
        )
    return backup_public(backup, addon.name)


def _backup(addon_name: str, backup_id: str, app: App, session: Session) -> tuple[str, AddonBackup]:
    """The add-on a backup was taken of, by name, and the backup: `b001` or `latest` of `addon_name`,
    or `OTHER::b001` of another Postgres add-on of the app (to restore it into `addon_name`)."""
    source, _, label_text = backup_id.rpartition("::")
    addon = get_addon(session=session, app=app, name=source or addon_name, kind="postgres")
    label = None if label_text == "latest" else backups.parse_label(label_text)
    return addon.name, backups.get_backup(session=session, addon=addon, label=label)


@router.get("/backups/{backup_id}")
def show_backup(addon_name: str, backup_id: str, app: ViewerApp, session: SessionDep) -> BackupPublic:
    name, backup = _backup(addon_name, backup_id, app, session)
    return backup_public(backup, name)


@router.get("/backups/{backup_id}/download")
def download_backup(
    addon_name: str, backup_id: str, app: MemberApp, session: SessionDep, context: ContextDep
) -> FileResponse:
    name, backup = _backup(addon_name, backup_id, app, session)
    path = backups.backup_path(context.settings.backups_dir, name, backup)
    if backup.status != "completed" or not path.is_file():
        raise NotFound(f"Backup {backup.label} has no file to download.", error_id="backup_not_found")
    return FileResponse(
        path,
        media_type="application/octet-stream",
        filename=f"{name}-{backup.label}.dump",
        headers={"X-Wharf-Sha256": backup.sha256 or ""},
    )


@router.get("/backups/{backup_id}/restore")
async def preview_restore(
    addon_name: str,
    backup_id: str,
    app: AdminApp,
    user: CurrentUser,
    session: SessionDep,
    context: ContextDep,
) -> RestorePreview:
    """What a restore replaces, so the CLI can say it before asking for confirmation."""
    pool = context.addon_operations
    with pool.slot(user.id):
        return await pool.run(_preview_restore, addon_name, backup_id, app, session, context)


def _preview_restore(
    addon_name: str, backup_id: str, app: App, session: Session, context: ApiContext
) -> RestorePreview:
    addon = get_addon(session=session, app=app, name=addon_name, kind="postgres")
    name, backup = _backup(addon_name, backup_id, app, session)
    with provider_errors():
        tables = backups.restore_preview(
            session=session,
            cipher=context.cipher,
            providers=providers_for(context),
            addon=addon,
            backup=backup,
        )
    return RestorePreview(
        backup=backup_public(backup, name),
        database=f"{addon.name} ({addon.attachment})",
        overwrites=tables,
        confirm=app.name,
    )


@router.post("/backups/{backup_id}/restore")
async def restore_backup(
    addon_name: str,
    backup_id: str,
    body: RestoreRequest,
    app: AdminApp,
    user: CurrentUser,
    session: SessionDep,
    context: ContextDep,
) -> BackupPublic:
    """Replace the database with the backup; on the add-on operations' threads, not a request thread."""
    pool = context.addon_operations
    with pool.slot(user.id):
        return await pool.run(_restore_backup, addon_name, backup_id, body, app, user, session, context)


def _restore_backup(
    addon_name: str,
    backup_id: str,
    body: RestoreRequest,
    app: App,
    user: User,
    session: Session,
    context: ApiContext,
) -> BackupPublic:
    addon = get_addon(session=session, app=app, name=addon_name, kind="postgres")
    name, backup = _backup(addon_name, backup_id, app, session)
    with provider_errors():
        backups.restore_backup(
            session=session,
            cipher=context.cipher,
            providers=providers_for(context),
            app=app,
            addon=addon,
            backup=backup,
            backup_of=name,
            root=context.settings.backups_dir,
            actor=user,
            confirm=body.confirm,
        )
    return backup_public(backup, name)


@router.put("/backup-schedule")
def schedule_backups(
    addon_name: str, body: ScheduleUpdate, app: AdminApp, session: SessionDep
) -> AddonPublic:
    addon = get_addon(session=session, app=app, name=addon_name, kind="postgres")
    backups.set_schedule(session=session, addon=addon, at=body.at, retention=body.retention)
    return addon_public(addon, app=app, session=session)
