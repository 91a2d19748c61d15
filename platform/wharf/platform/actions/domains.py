"""Custom domains, maintenance mode and TLS certificates: the API's half of the route table.

Each change commits and republishes the app's route itself, whoever asked for it.
"""

from __future__ import annotations

from typing import Any

import redis
from sqlalchemy import select
from sqlalchemy.orm import Session

from wharf.platform.errors import BadRequest, Conflict, NotFound
from wharf.platform.logs.events import record_event
from wharf.platform.models import App, Certificate, Domain, User
from wharf.platform.routing import (
    APP_ROUTES_KEY,
    half_is_whole,
    remove_app_routes,
    replace_app_route_settings,
    route_settings,
    set_app_route_settings,
    writing_app_routes,
)
from wharf.platform.security.names import validate_hostname as hostname_rule
from wharf.platform.settings import Settings
from wharf.router.routes import ROUTES_KEY

MAX_DOMAINS_PER_APP = 100


def default_hostname(app: App, settings: Settings) -> str:
    return f"{app.name}.{settings.wharf_domain}"


def list_domains(*, session: Session, app: App) -> list[Domain]:
    return list(session.scalars(select(Domain).where(Domain.app_id == app.id).order_by(Domain.hostname)))


def validate_hostname(hostname: str, settings: Settings) -> str:
    cleaned = hostname_rule(hostname)
    if cleaned == settings.wharf_domain or cleaned.endswith("." + settings.wharf_domain):
        raise BadRequest(
            f"{cleaned} is under {settings.wharf_domain}, where Wharf names apps itself. "
            "Use a domain you own.",
            error_id="reserved_hostname",
        )
    return cleaned


def commit_and_publish(*, session: Session, client: redis.Redis[bytes], settings: Settings, app: App) -> None:
    """Make the change durable first, then tell the router: it never serves what was not saved."""
    session.commit()
    sync_app_routes(session=session, client=client, settings=settings, app=app)


def add_domain(
    *,
    session: Session,
    client: redis.Redis[bytes],
    settings: Settings,
    app: App,
    actor: User,
    hostname: str,
) -> Domain:
    cleaned = validate_hostname(hostname, settings)
    if session.scalar(select(Domain).where(Domain.hostname == cleaned)) is not None:
        raise Conflict(f"{cleaned} is already in use by an app.", error_id="domain_taken")
    if len(list_domains(session=session, app=app)) >= MAX_DOMAINS_PER_APP:
        raise BadRequest(
            f"An app may have at most {MAX_DOMAINS_PER_APP} domains.", error_id="too_many_domains"
        )
    domain = Domain(app_id=app.id, hostname=cleaned)
    session.add(domain)
    session.flush()
    record_event(
        session=session, actor=actor, action="domain", app_name=app.name, message=f"Added domain {cleaned}"
    )
    commit_and_publish(session=session, client=client, settings=settings, app=app)
    return domain


def remove_domain(
    *,
    session: Session,
    client: redis.Redis[bytes],
    settings: Settings,
    app: App,
    actor: User,
    hostname: str,
) -> None:
    cleaned = hostname.strip().lower().rstrip(".")
    domain = session.scalar(select(Domain).where(Domain.app_id == app.id, Domain.hostname == cleaned))
    if domain is None:
        raise NotFound(
            f"{app.name} has no domain {cleaned}. List them with `wharf domains`.",
            error_id="domain_not_found",
        )
    session.delete(domain)
    record_event(
        session=session, actor=actor, action="domain", app_name=app.name, message=f"Removed domain {cleaned}"
    )
    commit_and_publish(session=session, client=client, settings=settings, app=app)


def set_maintenance(
    *,
    session: Session,
    client: redis.Redis[bytes],
    settings: Settings,
    app: App,
    actor: User,
    enabled: bool,
) -> None:
    app.maintenance = enabled
    message = f"Maintenance mode {'on' if enabled else 'off'} by {actor.email}"
    _record_and_publish(session=session, client=client, settings=settings, app=app, actor=actor,
                        action="maintenance", message=message)  # fmt: skip


def set_acm(
    *,
    session: Session,
    client: redis.Redis[bytes],
    settings: Settings,
    app: App,
    actor: User,
    enabled: bool,
) -> None:
    """Turn automatic (ACME) certificates for the app's custom domains on or off, and tell the router.

    An uploaded certificate is served either way; the default hostname keeps its local certificate.
    """
    app.acm = enabled
    message = f"Automatic certificates {'enabled' if enabled else 'disabled'} by {actor.email}"
    _record_and_publish(session=session, client=client, settings=settings, app=app, actor=actor,
                        action="acm", message=message)  # fmt: skip


def _record_and_publish(
    *,
    session: Session,
    client: redis.Redis[bytes],
    settings: Settings,
    app: App,
    actor: User,
    action: str,
    message: str,
) -> None:
    """A switch of the app's routing settings: in its activity, saved, and told to the router."""
    record_event(session=session, actor=actor, action=action, app_name=app.name, message=message)
    commit_and_publish(session=session, client=client, settings=settings, app=app)


def list_certificates(*, session: Session, app: App) -> list[Certificate]:
    return list(
        session.scalars(select(Certificate).where(Certificate.app_id == app.id).order_by(Certificate.id))
    )


def sync_app_routes(*, session: Session, client: redis.Redis[bytes], settings: Settings, app: App) -> None:
    """Publish the app's hostnames, maintenance mode and certificates for the router."""
    with writing_app_routes(client):
        set_app_route_settings(
            client, app.name, **_route_settings_of(session=session, settings=settings, app=app)
        )


def _route_settings_of(*, session: Session, settings: Settings, app: App) -> dict[str, Any]:
    hostnames = [default_hostname(app, settings)] + [
        d.hostname for d in list_domains(session=session, app=app)
    ]
    tls = [
        {
            "hostname": name,
            "cert_path": cert.cert_path,
            "key_path": cert.key_path,
            "redirect_http": cert.redirect_http,
        }
        for cert in list_certificates(session=session, app=app)
        for name in cert.hostnames.split(",")
        if name in hostnames
    ]
    return route_settings(
        hostnames=hostnames,
        maintenance=app.maintenance,
        tls=tls,
        acme=settings.wharf_acme_directory is not None and app.acm,
    )


def sync_all_app_routes(*, session: Session, client: redis.Redis[bytes], settings: Settings) -> int:
    """Write the API's whole half of the route table from the database, in one publish."""
    with writing_app_routes(client):
        apps = list(session.scalars(select(App)))
        whole = {app.name: _route_settings_of(session=session, settings=settings, app=app) for app in apps}
        replace_app_route_settings(client, whole)
    return len(apps)


def rewrite_lost_app_routes(*, session: Session, client: redis.Redis[bytes], settings: Settings) -> bool:
    """Write the API's half of the route table whole again when Redis lost it (or the published
    table); True when it had to."""
    if half_is_whole(client, APP_ROUTES_KEY) and client.exists(ROUTES_KEY):
        return False
    sync_all_app_routes(session=session, client=client, settings=settings)
    return True


def forget_app_routes(*, client: redis.Redis[bytes], app_name: str) -> None:
    remove_app_routes(client, app_name)
