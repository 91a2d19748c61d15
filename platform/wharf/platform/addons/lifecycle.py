"""The add-on lifecycle rules: create, attach, find, destroy the records. Keyword-only functions.

Creating an add-on records it as `provisioning` and returns at once; `finish_provisioning` (run in
the background by the API, or later by add-on upkeep) starts the server and only then attaches
its URL as a config var in a new release, so dynos never boot against a database that is not there.
"""

from __future__ import annotations

import secrets
import shutil
import time
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from wharf.platform.addons import AddonProviders
from wharf.platform.addons.base import AddonSpec, kind_named
from wharf.platform.db import session_scope
from wharf.platform.errors import BadRequest, Conflict, NotFound
from wharf.platform.logs.events import record_event
from wharf.platform.models import Addon, App, Release, User
from wharf.platform.records.releases import create_release, latest_release, lock_app
from wharf.platform.security.crypto import ConfigCipher
from wharf.platform.security.names import validate_attachment

ADJECTIVES = (
    "acute",
    "angular",
    "animated",
    "clean",
    "closed",
    "colorful",
    "concentric",
    "convex",
    "crystalline",
    "cubed",
    "curly",
    "cylindrical",
    "deep",
    "defined",
    "encircled",
    "flat",
    "fluffy",
    "graceful",
    "horizontal",
    "infinite",
    "metric",
    "octagonal",
    "opaque",
    "parallel",
    "regular",
    "rigid",
    "round",
    "rugged",
    "shiny",
    "sinuous",
    "slippery",
    "solid",
    "spherical",
    "symmetrical",
    "triangular",
    "vertical",
)
STATUS_WRITE_INTERVAL = 1.0


def generate_addon_name(prefix: str) -> str:
    """Heroku-style: `postgresql-shiny-12345`."""
    return f"{prefix}-{secrets.choice(ADJECTIVES)}-{secrets.randbelow(90000) + 10000}"


def addon_spec(addon: Addon, cipher: ConfigCipher, *, app_name: str) -> AddonSpec:
    return AddonSpec(
        name=addon.name,
        app=app_name,
        kind=addon.kind,
        credentials=cipher.decrypt(addon.credentials_ciphertext),
    )


def list_addons(*, session: Session, app: App) -> list[Addon]:
    return list(
        session.scalars(select(Addon).where(Addon.app_id == app.id).order_by(Addon.created_at, Addon.id))
    )


def get_addon(*, session: Session, app: App, name: str, kind: str | None = None) -> Addon:
    """By add-on name or by attachment (`DATABASE_URL` or `DATABASE`); only the app's own add-ons."""
    wanted = name.upper()
    attachments = {wanted, wanted if wanted.endswith("_URL") else f"{wanted}_URL"}
    for addon in list_addons(session=session, app=app):
        if (kind is None or addon.kind == kind) and (addon.name == name or addon.attachment in attachments):
            return addon
    if kind is not None and wanted == kind_named(kind).env_var.removesuffix("_URL"):
        of_kind = [a for a in list_addons(session=session, app=app) if a.kind == kind]
        if of_kind:
            return of_kind[0]
    raise NotFound(
        f"{app.name} has no add-on {name}. List them with `wharf addons -a {app.name}`.",
        error_id="addon_not_found",
    )


def _choose_attachment(
    *, config: dict[str, str], taken: set[str], kind: str, name: str, as_name: str | None
) -> str:
    if as_name:
        wanted = as_name.upper().replace("-", "_")
        attachment = wanted if wanted.endswith("_URL") else f"{wanted}_URL"
        validate_attachment(attachment, as_name)
        if attachment in config or attachment in taken:
            raise Conflict(
                f"{attachment} is already set on this app. Choose another name with --as.",
                error_id="attachment_taken",
            )
        return attachment
    default = kind_named(kind).env_var
    if default not in config and default not in taken:
        return default
    return name.upper().replace("-", "_") + "_URL"


def create_addon(
    *,
    session: Session,
    cipher: ConfigCipher,
    providers: AddonProviders,
    app: App,
    actor: User,
    kind: str,
    as_name: str | None = None,
) -> Addon:
    try:
        addon_kind = kind_named(kind)
    except ValueError as error:
        raise BadRequest(f"{error}. Example: wharf addons:create postgres", error_id="unknown_kind") from None
    provider = providers.for_kind(addon_kind.name)
    name = generate_addon_name(addon_kind.name_prefix)
    while session.scalar(select(Addon.id).where(Addon.name == name)) is not None:
        name = generate_addon_name(addon_kind.name_prefix)
    lock_app(session=session, app=app)
    latest = latest_release(session=session, app=app)
    config = cipher.decrypt(latest.config_ciphertext) if latest else {}
    taken = {a.attachment for a in list_addons(session=session, app=app)}
    attachment = _choose_attachment(
        config=config, taken=taken, kind=addon_kind.name, name=name, as_name=as_name
    )
    addon = Addon(
        name=name,
        app_id=app.id,
        kind=addon_kind.name,
        attachment=attachment,
        credentials_ciphertext=cipher.encrypt(provider.new_credentials()),
        status="provisioning",
        status_message="waiting to start",
        created_by_id=actor.id,
    )
    session.add(addon)
    session.flush()
    record_event(
        session=session,
        actor=actor,
        action="addon-create",
        app_name=app.name,
        message=f"Create {addon_kind.title} add-on {name} as {attachment} by {actor.email}",
    )
    return addon


def release_with_config(
    *,
    session: Session,
    cipher: ConfigCipher,
    app: App,
    actor: User | None,
    description: str,
    changes: dict[str, str | None],
) -> Release:
    """A new release with the config changed, deployed by the scheduler when the app has a build."""
    lock_app(session=session, app=app)
    latest = latest_release(session=session, app=app)
    config = cipher.decrypt(latest.config_ciphertext) if latest else {}
    for key, value in changes.items():
        if value is None:
            config.pop(key, None)
        else:
            config[key] = value
    return create_release(
        session=session,
        cipher=cipher,
        app=app,
        actor=actor,
        description=description,
        config=config,
        build_id=latest.build_id if latest else None,
        image=latest.image if latest else None,
        image_id=latest.image_id if latest else None,
        source="addon",
        process_types=latest.process_types if latest else None,
        status="pending" if latest and latest.image else "succeeded",
    )


def _set_status(database_url: str, addon_id: int, status: str | None, message: str) -> None:
    with session_scope(database_url) as session:
        addon = session.get(Addon, addon_id)
        if addon is not None:
            addon.status_message = message[-2000:]
            if status is not None:
                addon.status = status


def finish_provisioning(
    *, database_url: str, cipher: ConfigCipher, providers: AddonProviders, addon_id: int
) -> bool:
    """Start the add-on and attach it; False when another process holds it or it is not provisioning."""
    with session_scope(database_url) as session:
        addon = session.get(Addon, addon_id)
        if addon is None or addon.status != "provisioning":
            return False
        spec = addon_spec(addon, cipher, app_name=addon.app.name)
    with providers.exclusive(spec.name, wait=False) as mine:
        if not mine:
            return False
        last_write = [0.0]

        def progress(line: str) -> None:
            if time.monotonic() - last_write[0] >= STATUS_WRITE_INTERVAL:
                last_write[0] = time.monotonic()
                _set_status(database_url, addon_id, None, line.strip())

        try:
            providers.for_kind(spec.kind).provision(spec, progress=progress)
        except Exception as error:  # the service, Docker or the image build failed: say why
            _set_status(database_url, addon_id, "failed", f"provisioning failed: {error}")
            return True
        _attach(database_url=database_url, cipher=cipher, providers=providers, addon_id=addon_id, spec=spec)
    return True


def _attach(
    *, database_url: str, cipher: ConfigCipher, providers: AddonProviders, addon_id: int, spec: AddonSpec
) -> None:
    provider = providers.for_kind(spec.kind)
    url, tls_url = provider.connection_url(spec), provider.tls_url(spec)
    with session_scope(database_url) as session:
        addon = session.get(Addon, addon_id)
        if addon is None or addon.status != "provisioning":
            return
        changes: dict[str, str | None] = {addon.attachment: url}
        if tls_url is not None:
            changes[tls_attachment(addon.attachment)] = tls_url
        actor = session.get(User, addon.created_by_id) if addon.created_by_id else None
        release_with_config(
            session=session,
            cipher=cipher,
            app=addon.app,
            actor=actor,
            description=f"Attach {addon.name} as {addon.attachment}",
            changes=changes,
        )
        addon.status, addon.status_message = "available", "available"


def tls_attachment(attachment: str) -> str:
    """REDIS_URL -> REDIS_TLS_URL: the variable with the add-on's TLS URL, as Heroku Redis names it."""
    return f"{attachment.removesuffix('_URL')}_TLS_URL"


def connection_url(*, addon: Addon, cipher: ConfigCipher, providers: AddonProviders) -> str:
    spec = addon_spec(addon, cipher, app_name=addon.app.name)
    return providers.for_kind(addon.kind).connection_url(spec)


def destroy_addon(
    *,
    session: Session,
    cipher: ConfigCipher,
    providers: AddonProviders,
    app: App,
    actor: User,
    addon: Addon,
    confirm: str | None,
    backups_root: Path,
) -> None:
    """Detach (new release), then remove the container, its volume and its backups."""
    if confirm != addon.name:
        raise BadRequest(
            f"Confirmation did not match {addon.name}. Nothing was destroyed. Pass --confirm {addon.name}.",
            error_id="confirmation_required",
        )
    lock_app(session=session, app=app)
    latest = latest_release(session=session, app=app)
    config = cipher.decrypt(latest.config_ciphertext) if latest is not None else {}
    if addon.attachment in config:
        names = (addon.attachment, tls_attachment(addon.attachment))
        release_with_config(
            session=session,
            cipher=cipher,
            app=app,
            actor=actor,
            description=f"Detach {addon.name}",
            changes={name: None for name in names if name in config},
        )
    addon.status = "deprovisioning"
    session.flush()
    remove_addon_data(
        session=session, cipher=cipher, providers=providers, addon=addon, backups_root=backups_root
    )
    record_event(
        session=session,
        actor=actor,
        action="addon-destroy",
        app_name=app.name,
        message=f"Destroy add-on {addon.name} by {actor.email}",
    )


def remove_backup_files(*, backups_root: Path, addon_name: str) -> None:
    """Delete an add-on's backups; here, not in `backups`, because destroying an add-on needs it."""
    shutil.rmtree(backups_root / addon_name, ignore_errors=True)


def remove_addon_data(
    *, session: Session, cipher: ConfigCipher, providers: AddonProviders, addon: Addon, backups_root: Path
) -> None:
    spec = addon_spec(addon, cipher, app_name=addon.app.name)
    with providers.exclusive(spec.name):
        providers.for_kind(spec.kind).deprovision(spec)
        remove_backup_files(backups_root=backups_root, addon_name=addon.name)
        session.delete(addon)


def destroy_app_addons(
    *, session: Session, cipher: ConfigCipher, providers: AddonProviders, app: App, backups_root: Path
) -> list[str]:
    """Remove every add-on of an app being destroyed (containers, volumes, backups); their names."""
    names = []
    for addon in list_addons(session=session, app=app):
        remove_addon_data(
            session=session, cipher=cipher, providers=providers, addon=addon, backups_root=backups_root
        )
        names.append(addon.name)
    return names
