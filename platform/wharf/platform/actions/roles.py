"""Roles on an app: who holds which, and the one check every entry point goes through.

The owner is an implicit admin; a collaborator holds the role given to them; on a team's app each team
member holds their team role. Where a user holds several, the highest counts. A user with no role does not
see the app at all (404, never 403, so names cannot be probed); a user whose role is too low gets a 403
naming the role needed.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from wharf.platform.errors import Forbidden, NotFound, Unprocessable
from wharf.platform.models import App, Collaborator, Team, TeamApp, TeamMember, User

VIEWER = "viewer"
MEMBER = "member"
ADMIN = "admin"
ROLES = (VIEWER, MEMBER, ADMIN)
_RANK = {role: rank for rank, role in enumerate(ROLES)}

WHAT_ROLES_MAY = {
    VIEWER: "read the app (info, logs, releases, builds, dynos, metrics)",
    MEMBER: "deploy, scale, change config, restart, run and roll back",
    ADMIN: "manage access, add-ons, domains, certificates, drains, transfer and destroy",
}


def check_role_name(role: str) -> str:
    if role not in _RANK:
        raise Unprocessable(f"Unknown role {role!r}: use viewer, member or admin.", error_id="unknown_role")
    return role


def at_least(role: str | None, needed: str) -> bool:
    return role is not None and _RANK[role] >= _RANK[needed]


def highest(roles: list[str]) -> str | None:
    return max(roles, key=lambda role: _RANK[role]) if roles else None


def team_of(session: Session, app: App) -> Team | None:
    return session.scalar(
        select(Team).join(TeamApp, TeamApp.team_id == Team.id).where(TeamApp.app_id == app.id)
    )


def team_role(session: Session, *, team_id: int, user_id: int) -> str | None:
    return session.scalar(
        select(TeamMember.role).where(TeamMember.team_id == team_id, TeamMember.user_id == user_id)
    )


def role_on_app(session: Session, *, user: User, app: App) -> str | None:
    """The highest role the user holds on the app, or None when they have none."""
    if app.owner_id == user.id:
        return ADMIN
    roles = list(
        session.scalars(
            select(Collaborator.role).where(Collaborator.app_id == app.id, Collaborator.user_id == user.id)
        )
    )
    roles += session.scalars(
        select(TeamMember.role)
        .join(TeamApp, TeamApp.team_id == TeamMember.team_id)
        .where(TeamApp.app_id == app.id, TeamMember.user_id == user.id)
    )
    return highest(roles)


def app_not_found(name: str) -> NotFound:
    return NotFound(
        f"Couldn't find that app ({name}). Check the name with `wharf apps`.", error_id="app_not_found"
    )


def require_role(session: Session, *, user: User, app: App, needed: str) -> str:
    """The user's role when it is at least `needed`; 404 without any role, 403 with too low a one."""
    role = role_on_app(session, user=user, app=app)
    if role is None:
        raise app_not_found(app.name)
    if not at_least(role, needed):
        raise Forbidden(
            f"This needs the {needed} role on {app.name} (to {WHAT_ROLES_MAY[needed]}); you are a {role}. "
            f"Ask an admin of the app: wharf access:update YOUR-EMAIL -a {app.name} --role {needed}",
            error_id="role_required",
        )
    return role


def app_for_role(*, session: Session, user: User, name: str, needed: str) -> App:
    app = session.scalar(select(App).where(App.name == name))
    if app is None:
        raise app_not_found(name)
    require_role(session, user=user, app=app, needed=needed)
    return app


@dataclass(frozen=True)
class VisibleApp:
    app: App
    role: str
    team: str | None


def visible_apps(*, session: Session, user: User) -> list[VisibleApp]:
    """Every app the user holds a role on (owned, shared with them, or their teams'), by name."""
    team_ids = select(TeamMember.team_id).where(TeamMember.user_id == user.id)
    shared = select(Collaborator.app_id).where(Collaborator.user_id == user.id)
    team_apps = select(TeamApp.app_id).where(TeamApp.team_id.in_(team_ids))
    apps = session.scalars(
        select(App)
        .where(or_(App.owner_id == user.id, App.id.in_(shared), App.id.in_(team_apps)))
        .order_by(App.name)
    )
    found = []
    for app in apps:
        role = role_on_app(session, user=user, app=app)
        team = team_of(session, app)
        if role is not None:
            found.append(VisibleApp(app=app, role=role, team=team.name if team else None))
    return found
