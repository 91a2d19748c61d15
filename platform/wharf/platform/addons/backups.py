"""Postgres backups: `pg_dump -Fc` files in <backups dir>/<addon>/, each with its size and sha256.

The dump is streamed from the add-on's container through the Docker API to the control plane, which
writes it under `Settings.backups_dir` (WHARF_BACKUPS_DIR, default $WHARF_DATA_DIR/backups): nothing
of a backup is kept on the add-on's own volume.

Manual backups (`b001`) stay until the add-on is destroyed; scheduled ones (`a001`) are taken daily
at the add-on's UTC time and pruned to its retention count.
"""

from __future__ import annotations

import os
import re
from datetime import UTC, datetime, time
from pathlib import Path

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from wharf.platform.addons import AddonProviders
from wharf.platform.addons.lifecycle import addon_spec
from wharf.platform.db import utcnow
from wharf.platform.errors import BadRequest, NotFound
from wharf.platform.logs.events import record_event
from wharf.platform.models import Addon, AddonBackup, App, User
from wharf.platform.security.crypto import ConfigCipher
from wharf.platform.settings import ensure_private_dir

BACKUP_LABEL = re.compile(r"([ab])(\d+)")
SCHEDULE_TIME = re.compile(r"([01]\d|2[0-3]):([0-5]\d)")
MAX_RETENTION = 100


def backup_path(root: Path, addon_name: str, backup: AddonBackup) -> Path:
    return root / addon_name / f"{backup.label}.dump"


def _create_private_file(path: Path) -> None:
    """The dump's file, made 0600 in 0700 folders before the provider writes it: dumps hold app data."""
    ensure_private_dir(path.parent.parent)
    ensure_private_dir(path.parent)
    os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, 0o600))
    path.chmod(0o600)


def list_backups(*, session: Session, addon: Addon) -> list[AddonBackup]:
    query = select(AddonBackup).where(AddonBackup.addon_id == addon.id).order_by(AddonBackup.number.desc())
    return list(session.scalars(query))


def get_backup(*, session: Session, addon: Addon, label: str | None) -> AddonBackup:
    """By label (`b003`), or the newest completed backup when no label is given."""
    completed = [b for b in list_backups(session=session, addon=addon) if b.status == "completed"]
    if label is None:
        if not completed:
            raise NotFound(
                f"{addon.name} has no backups yet. Capture one with `wharf pg:backups:capture`.",
                error_id="backup_not_found",
            )
        return completed[0]
    wanted = BACKUP_LABEL.fullmatch(label.lower())
    for backup in list_backups(session=session, addon=addon):
        if wanted and backup.label == f"{wanted[1]}{int(wanted[2]):03d}":
            return backup
    raise NotFound(
        f"{addon.name} has no backup {label}. List them with `wharf pg:backups`.", error_id="backup_not_found"
    )


def capture_backup(
    *,
    session: Session,
    cipher: ConfigCipher,
    providers: AddonProviders,
    addon: Addon,
    root: Path,
    actor: User | None,
    scheduled: bool = False,
    now: datetime | None = None,
) -> AddonBackup:
    """Dump the add-on now; a failure is recorded on the backup and reported to the caller."""
    backups = providers.backups_for(addon.kind)
    number = session.execute(
        update(Addon)
        .where(Addon.id == addon.id)
        .values(backup_counter=Addon.backup_counter + 1)
        .returning(Addon.backup_counter)
    ).scalar_one()
    backup = AddonBackup(
        addon_id=addon.id,
        number=int(number),
        scheduled=scheduled,
        status="running",
        created_at=now or utcnow(),
    )
    session.add(backup)
    session.flush()
    spec = addon_spec(addon, cipher, app_name=addon.app.name)
    destination = backup_path(root, addon.name, backup)
    try:
        _create_private_file(destination)
        result = backups.capture_backup(spec, destination)
    except Exception as error:  # recorded so that `pg:backups` shows the failure
        backup.status, backup.failure, backup.finished_at = "failed", str(error)[:2000], utcnow()
        return backup
    backup.status, backup.finished_at = "completed", utcnow()
    backup.size_bytes, backup.sha256 = result.size_bytes, result.sha256
    record_event(
        session=session,
        actor=actor,
        action="backup",
        app_name=addon.app.name,
        message=f"Backup {backup.label} of {addon.name} captured ({result.size_bytes} bytes)",
    )
    return backup


def restore_preview(
    *, session: Session, cipher: ConfigCipher, providers: AddonProviders, addon: Addon, backup: AddonBackup
) -> list[str]:
    """The tables a restore of `backup` drops, as they are now."""
    return providers.backups_for(addon.kind).backup_summary(
        addon_spec(addon, cipher, app_name=addon.app.name)
    )


def restore_backup(
    *,
    session: Session,
    cipher: ConfigCipher,
    providers: AddonProviders,
    app: App,
    addon: Addon,
    backup: AddonBackup,
    root: Path,
    actor: User,
    confirm: str | None,
    backup_of: str | None = None,
) -> None:
    """Replace `addon`'s data with `backup`, taken of `addon` or of the add-on named `backup_of` (a new
    add-on restored from an old one's backup, e.g. after the old one's node was lost)."""
    origin = backup_of or addon.name
    if confirm != app.name:
        raise BadRequest(
            f"Confirmation did not match {app.name}. Nothing was restored. Pass --confirm {app.name}.",
            error_id="confirmation_required",
        )
    if backup.status != "completed":
        raise BadRequest(
            f"Backup {backup.label} did not complete; choose another one.", error_id="backup_failed"
        )
    spec = addon_spec(addon, cipher, app_name=app.name)
    with providers.exclusive(addon.name):
        providers.backups_for(addon.kind).restore_backup(spec, backup_path(root, origin, backup))
    taken = backup.label if origin == addon.name else f"{origin}::{backup.label}"
    record_event(
        session=session,
        actor=actor,
        action="restore",
        app_name=app.name,
        message=f"Restore backup {taken} into {addon.name} by {actor.email}",
    )


def set_schedule(*, session: Session, addon: Addon, at: str | None, retention: int | None) -> Addon:
    """Daily at HH:MM UTC, keeping `retention` scheduled backups; `at=None` unschedules."""
    if at is not None and not SCHEDULE_TIME.fullmatch(at):
        raise BadRequest(f"--at {at} is not a time: use HH:MM (UTC), like 02:00.", error_id="invalid_time")
    if retention is not None and not 1 <= retention <= MAX_RETENTION:
        raise BadRequest(f"--retention must be between 1 and {MAX_RETENTION}.", error_id="invalid_retention")
    addon.backup_at = at
    if retention is not None:
        addon.backup_retention = retention
    return addon


def scheduled_backup_due(*, session: Session, addon: Addon, now: datetime | None = None) -> bool:
    """True once today's time has passed and no scheduled backup was started since it."""
    if addon.backup_at is None or addon.status != "available":
        return False
    now = now or datetime.now(UTC)
    hour, minute = (int(part) for part in addon.backup_at.split(":"))
    slot = datetime.combine(now.date(), time(hour, minute), tzinfo=UTC)
    if now < slot:
        return False
    taken = session.scalar(
        select(AddonBackup.id).where(
            AddonBackup.addon_id == addon.id, AddonBackup.scheduled.is_(True), AddonBackup.created_at >= slot
        )
    )
    return taken is None


def prune_scheduled_backups(*, session: Session, addon: Addon, root: Path) -> list[str]:
    """Remove scheduled backups beyond the retention count, oldest first; returns their labels."""
    scheduled = [b for b in list_backups(session=session, addon=addon) if b.scheduled]
    removed = []
    for backup in scheduled[addon.backup_retention :]:
        backup_path(root, addon.name, backup).unlink(missing_ok=True)
        removed.append(backup.label)
        session.delete(backup)
    return removed


def parse_label(label: str) -> str:
    if not BACKUP_LABEL.fullmatch(label.lower()):
        raise BadRequest(
            f"{label} is not a backup id: they look like b001 or a003.", error_id="invalid_backup"
        )
    return label.lower()
