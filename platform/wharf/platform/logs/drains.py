"""Log drains as users manage them: add, list, remove, and the list the forwarder runs from."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from urllib.parse import urlsplit

from sqlalchemy import select
from sqlalchemy.orm import Session

from wharf.platform.errors import BadRequest, Conflict, NotFound
from wharf.platform.logs.events import record_event
from wharf.platform.models import App, LogDrain, User
from wharf.platform.security.names import validate_url

SCHEMES = {"syslog": 514, "syslog+tls": 6514, "https": 443, "http": 80}
MAX_DRAINS_PER_APP = 5
USAGE = "Use syslog://HOST:PORT, syslog+tls://HOST:PORT or https://HOST/PATH."


@dataclass(frozen=True)
class DrainTarget:
    """Where a drain URL points, checked once when it is added."""

    scheme: str
    host: str
    port: int
    url: str

    @property
    def safe_url(self) -> str:
        """The URL without credentials or path, for messages in the app's own log."""
        return f"{self.scheme}://{self.host}:{self.port}"

    @property
    def is_syslog(self) -> bool:
        return self.scheme.startswith("syslog")


@dataclass(frozen=True)
class DrainSpec:
    """A drain as the forwarder sees it."""

    id: int
    app: str
    url: str
    token: str


def parse_drain_url(url: str) -> DrainTarget:
    """Validate a drain URL; BadRequest saying which forms are accepted otherwise."""
    validate_url(url.strip(), "drain URL")
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError as error:
        raise BadRequest(f"{url} is not a valid URL ({error}). {USAGE}", error_id="invalid_drain") from None
    scheme = parts.scheme.lower()
    if scheme not in SCHEMES or not parts.hostname:
        raise BadRequest(f"{url} is not a drain URL. {USAGE}", error_id="invalid_drain")
    if scheme.startswith("syslog") and port is None:
        raise BadRequest(f"{url} needs a port: syslog://HOST:PORT.", error_id="invalid_drain")
    return DrainTarget(scheme=scheme, host=parts.hostname, port=port or SCHEMES[scheme], url=url.strip())


def drain_token() -> str:
    return f"d.{secrets.token_hex(16)}"


def list_drains(*, session: Session, app: App) -> list[LogDrain]:
    query = select(LogDrain).where(LogDrain.app_id == app.id).order_by(LogDrain.id)
    return list(session.scalars(query))


def add_drain(*, session: Session, app: App, actor: User, url: str) -> LogDrain:
    target = parse_drain_url(url)
    existing = list_drains(session=session, app=app)
    if any(drain.url == target.url for drain in existing):
        raise Conflict(f"{app.name} already drains to {target.url}.", error_id="drain_exists")
    if len(existing) >= MAX_DRAINS_PER_APP:
        raise Conflict(
            f"{app.name} has {len(existing)} drains, the most allowed. "
            "Remove one with wharf drains:remove URL.",
            error_id="too_many_drains",
        )
    drain = LogDrain(app_id=app.id, url=target.url, token=drain_token())
    session.add(drain)
    session.flush()
    record_event(
        session=session,
        actor=actor,
        action="drain",
        app_name=app.name,
        message=f"Log drain {target.safe_url} added by {actor.email}",
    )
    return drain


def remove_drain(*, session: Session, app: App, actor: User, url_or_token: str) -> LogDrain:
    """Remove the drain with this URL (or token, as Heroku's drains:remove accepts)."""
    wanted = url_or_token.strip()
    for drain in list_drains(session=session, app=app):
        if wanted in (drain.url, drain.token):
            session.delete(drain)
            record_event(
                session=session,
                actor=actor,
                action="drain",
                app_name=app.name,
                message=f"Log drain {parse_drain_url(drain.url).safe_url} removed by {actor.email}",
            )
            return drain
    raise NotFound(
        f"{app.name} has no drain {wanted}. List them with wharf drains.", error_id="drain_not_found"
    )


def all_drains(*, session: Session) -> list[DrainSpec]:
    rows = session.execute(select(LogDrain.id, App.name, LogDrain.url, LogDrain.token).join(App))
    return [DrainSpec(id=row[0], app=row[1], url=row[2], token=row[3]) for row in rows]
