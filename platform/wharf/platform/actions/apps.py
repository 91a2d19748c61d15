"""Apps: creation, lookup scoped to the owner, and destruction, each with all of its side effects.

Every entry point (API, dashboard) calls these: creating an app publishes its route, and destroying
one removes its add-ons, route and git repository, and (once its dynos are gone) its images.
"""

from __future__ import annotations

import shutil

import redis
from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from wharf.platform.actions.accounts import user_for_token
from wharf.platform.actions.domains import forget_app_routes, sync_app_routes
from wharf.platform.actions.names import generate_app_name, validate_app_name
from wharf.platform.actions.roles import MEMBER, VIEWER, app_for_role
from wharf.platform.actions.teams import team_for
from wharf.platform.addons import AddonProviders
from wharf.platform.addons.lifecycle import destroy_app_addons
from wharf.platform.builds.build_caches import forget_build_caches
from wharf.platform.builds.reuse import ReuseStore
from wharf.platform.db import session_scope
from wharf.platform.errors import BadRequest, Conflict, Forbidden, NotFound, QuotaExceeded
from wharf.platform.jobs import enqueue_image_removal
from wharf.platform.logs.events import record_event
from wharf.platform.logs.stream import stream_key as log_stream_key
from wharf.platform.metrics.store import MetricsStore
from wharf.platform.models import ApiToken, App, Formation, PipelineApp, Release, TeamApp, User
from wharf.platform.records.releases import create_release
from wharf.platform.repos import remove_repo
from wharf.platform.security.crypto import ConfigCipher
from wharf.platform.settings import Settings

MAX_NAME_ATTEMPTS = 20


def _name_taken(*, session: Session, name: str) -> bool:
    return session.scalar(select(App.id).where(App.name == name)) is not None


def create_app(
    *,
    session: Session,
    cipher: ConfigCipher,
    client: redis.Redis[bytes],
    settings: Settings,
    owner: User,
    name: str | None,
    team: str | None = None,
) -> App:
    """Record the app with its first release, commit, and publish its route so the router knows it.

    With a team, the app is the team's: its members hold their team roles on it (viewers cannot create).
    """
    team_id = team_for(session=session, user=owner, name=team, needed=MEMBER)[0].id if team else None
    check_app_quota(session=session, owner=owner, limit=settings.quotas.apps_per_user)
    if name is None:
        for _ in range(MAX_NAME_ATTEMPTS):
            name = generate_app_name()
            if not _name_taken(session=session, name=name):
                break
        else:
            raise Conflict("Could not find a free app name. Choose one: wharf apps:create NAME")
    validate_app_name(name)
    if _name_taken(session=session, name=name):
        raise Conflict(
            f"Name {name} is already taken. Choose another: wharf apps:create OTHER-NAME",
            error_id="name_taken",
        )
    app = App(name=name, owner_id=owner.id)
    session.add(app)
    session.flush()
    if team_id is not None:
        session.add(TeamApp(app_id=app.id, team_id=team_id))
    record_event(
        session=session, actor=owner, action="create", app_name=name, message=f"Created by {owner.email}"
    )
    create_release(
        session=session,
        cipher=cipher,
        app=app,
        actor=owner,
        description="Initial release",
        config={},
        source="initial",
    )
    # Whatever a former app of this name left behind (lines its last dynos logged after it went) goes
    # before the commit, which writes this app's first log lines.
    forget_app_leftovers(client=client, settings=settings, app_name=name)
    session.commit()
    sync_app_routes(session=session, client=client, settings=settings, app=app)
    return app


def forget_app_leftovers(*, client: redis.Redis[bytes], settings: Settings, app_name: str) -> None:
    """What is keyed by an app's name outside the database: gone with the app, so a new owner of the
    name inherits none of it (its log, its metrics, its build cache and reuse record, its certificate
    files, its cache volumes on builder nodes)."""
    client.delete(log_stream_key(app_name))
    forget_build_caches(client, installation=settings.installation_id, app=app_name)
    MetricsStore(client).forget_app(app_name)
    ReuseStore(settings.wharf_data_dir / "build-reuse").forget(app_name)
    for folder in (
        settings.wharf_data_dir / "cache" / app_name,
        settings.wharf_data_dir / "certs" / app_name,
    ):
        shutil.rmtree(folder, ignore_errors=True)


def check_app_quota(*, session: Session, owner: User, limit: int) -> None:
    owned = session.scalar(select(func.count(App.id)).where(App.owner_id == owner.id)) or 0
    if owned >= limit:
        raise QuotaExceeded(
            f"You have {owned} apps, the limit per user on this host (WHARF_MAX_APPS_PER_USER={limit}). "
            "Destroy one you no longer need (wharf apps:destroy APP --confirm APP), or ask the operator "
            "to raise WHARF_MAX_APPS_PER_USER.",
            error_id="app_quota_exceeded",
        )


def get_owned_app(*, session: Session, user: User, name: str, role: str = MEMBER) -> App:
    """The app if the user holds `role` or above on it (the owner is an admin).

    An app the user holds no role on is reported as missing, not forbidden; too low a role is a 403.
    """
    return app_for_role(session=session, user=user, name=name, needed=role)


def may_still_read(*, database_url: str, token_secret: str, app_id: int) -> bool:
    """For long-lived streams: is the token still valid, and may its user still read the app (by id)?

    False once the token is revoked, the caller's access removed, the app destroyed, or its name given
    to another app.
    """
    with session_scope(database_url) as session:
        found = user_for_token(session=session, secret=token_secret)
        app = session.get(App, app_id)
        if found is None or app is None:
            return False
        try:
            return get_owned_app(session=session, user=found[0], name=app.name, role=VIEWER).id == app_id
        except (NotFound, Forbidden):
            return False


def token_may_still_push(*, database_url: str, token_id: int, user_id: int, app_id: int) -> bool:
    """For a push's build and deploy output: is the pusher's token still there, and are they still a
    member (or admin) of the app?"""
    with session_scope(database_url) as session:
        token = session.get(ApiToken, token_id)
        app = session.get(App, app_id)
        if token is None or token.user_id != user_id or app is None:
            return False
        try:
            return get_owned_app(session=session, user=token.user, name=app.name, role=MEMBER).id == app_id
        except (NotFound, Forbidden):
            return False


def list_owned_apps(*, session: Session, user: User) -> list[App]:
    return list(session.scalars(select(App).where(App.owner_id == user.id).order_by(App.name)))


def check_destroy_confirmation(*, app: App, confirm: str | None) -> None:
    """Destroying loses data: it needs the app's name typed back, before anything is touched."""
    if confirm != app.name:
        raise BadRequest(
            f"Confirmation did not match {app.name}. Nothing was destroyed. Pass --confirm {app.name}.",
            error_id="confirmation_required",
        )


def destroy_app(
    *,
    session: Session,
    cipher: ConfigCipher,
    client: redis.Redis[bytes],
    settings: Settings,
    providers: AddonProviders,
    actor: User,
    app: App,
    confirm: str | None,
) -> None:
    """Remove the app and everything it owns; its dynos are retired by the scheduler, its images after."""
    check_destroy_confirmation(app=app, confirm=confirm)
    name = app.name
    destroy_app_addons(
        session=session,
        cipher=cipher,
        providers=providers,
        app=app,
        backups_root=settings.backups_dir,
    )
    session.execute(delete(Formation).where(Formation.app_id == app.id))
    session.execute(delete(Release).where(Release.app_id == app.id))
    session.execute(delete(PipelineApp).where(PipelineApp.app_id == app.id))
    record_event(
        session=session,
        actor=actor,
        action="destroy",
        app_name=name,
        message=f"Destroyed by {actor.email}",
    )
    session.delete(app)
    session.commit()
    forget_app_routes(client=client, app_name=name)
    remove_repo(data_dir=settings.wharf_data_dir, app_name=name)
    forget_app_leftovers(client=client, settings=settings, app_name=name)
    enqueue_image_removal(client, app_name=name)
