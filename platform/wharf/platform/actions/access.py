"""Collaborators on an app, and who holds which role on it: list, add, change, remove.

Only an admin of the app reaches these for changes (the route dependency checks the role); the owner's
own access cannot be changed here (transfer the app instead).
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from wharf.platform.actions.roles import ADMIN, check_role_name, team_of
from wharf.platform.errors import BadRequest, Conflict, NotFound, QuotaExceeded
from wharf.platform.logs.events import record_event
from wharf.platform.models import App, Collaborator, TeamMember, User

MAX_EMAIL_LENGTH = 254


@dataclass(frozen=True)
class Access:
    email: str
    role: str
    # owner, collaborator or team
    source: str


def user_by_email(session: Session, email: str) -> User:
    """The account with that email; an unknown one is a 404 that says no more than that."""
    cleaned = email.strip().lower()
    user = None
    if 0 < len(cleaned) <= MAX_EMAIL_LENGTH:
        user = session.scalar(select(User).where(func.lower(User.email) == cleaned))
    if user is None:
        raise NotFound(
            f"There is no Wharf account for {email[:MAX_EMAIL_LENGTH]!r}. The person must sign up first "
            "(wharf signup --invite CODE), then you can add them.",
            error_id="user_not_found",
        )
    return user


def list_access(*, session: Session, app: App) -> list[Access]:
    found = [Access(email=app.owner.email, role=ADMIN, source="owner")]
    for row in session.scalars(select(Collaborator).where(Collaborator.app_id == app.id)):
        found.append(Access(email=row.user.email, role=row.role, source="collaborator"))
    team = team_of(session, app)
    if team is not None:
        for member in session.scalars(select(TeamMember).where(TeamMember.team_id == team.id)):
            found.append(Access(email=member.user.email, role=member.role, source="team"))
    return sorted(found, key=lambda item: (item.source != "owner", item.email))


def _collaborator(session: Session, *, app: App, user: User) -> Collaborator | None:
    return session.scalar(
        select(Collaborator).where(Collaborator.app_id == app.id, Collaborator.user_id == user.id)
    )


def add_collaborator(*, session: Session, actor: User, app: App, email: str, role: str, limit: int) -> Access:
    check_role_name(role)
    user = user_by_email(session, email)
    if user.id == app.owner_id:
        raise Conflict(f"{user.email} owns {app.name} and is an admin already.", error_id="already_owner")
    if _collaborator(session, app=app, user=user) is not None:
        raise Conflict(
            f"{user.email} already has access to {app.name}. Change the role: "
            f"wharf access:update {user.email} -a {app.name} --role {role}",
            error_id="already_collaborator",
        )
    count = session.scalar(select(func.count(Collaborator.id)).where(Collaborator.app_id == app.id)) or 0
    if count >= limit:
        raise QuotaExceeded(
            f"{app.name} has {count} collaborators, the limit on this host "
            f"(WHARF_MAX_COLLABORATORS_PER_APP={limit}). Remove one first: wharf access:remove EMAIL",
            error_id="collaborator_quota_exceeded",
        )
    session.add(Collaborator(app_id=app.id, user_id=user.id, role=role))
    record_event(
        session=session,
        actor=actor,
        action="access",
        app_name=app.name,
        message=f"Added {user.email} as {role}",
    )
    return Access(email=user.email, role=role, source="collaborator")


def _existing(session: Session, *, app: App, email: str) -> Collaborator:
    user = user_by_email(session, email)
    if user.id == app.owner_id:
        raise BadRequest(
            f"{user.email} owns {app.name}; the owner's access cannot change. "
            f"Transfer the app instead: wharf apps:transfer NEW-OWNER -a {app.name}",
            error_id="owner_access",
        )
    row = _collaborator(session, app=app, user=user)
    if row is None:
        raise NotFound(
            f"{user.email} is not a collaborator on {app.name}.", error_id="collaborator_not_found"
        )
    return row


def update_collaborator(*, session: Session, actor: User, app: App, email: str, role: str) -> Access:
    check_role_name(role)
    row = _existing(session, app=app, email=email)
    row.role = role
    record_event(
        session=session,
        actor=actor,
        action="access",
        app_name=app.name,
        message=f"{row.user.email} is now {role}",
    )
    return Access(email=row.user.email, role=role, source="collaborator")


def remove_collaborator(*, session: Session, actor: User, app: App, email: str) -> None:
    row = _existing(session, app=app, email=email)
    record_event(
        session=session, actor=actor, action="access", app_name=app.name, message=f"Removed {row.user.email}"
    )
    session.delete(row)
