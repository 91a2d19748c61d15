"""Transferring an app to another account or to a team (an admin's action).

The receiving account must have room under its app quota, as must a receiving team (the same limit per
team). A previous owner stays on the app as a member collaborator, as on Heroku, and can be removed.
"""

from __future__ import annotations

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from wharf.platform.actions.access import user_by_email
from wharf.platform.actions.apps import check_app_quota
from wharf.platform.actions.roles import MEMBER
from wharf.platform.actions.teams import team_for
from wharf.platform.errors import Conflict, QuotaExceeded
from wharf.platform.logs.events import record_event
from wharf.platform.models import App, Collaborator, TeamApp, User


def transfer_app(*, session: Session, actor: User, app: App, target: str, apps_limit: int) -> str:
    """Give the app to the account with email `target`, or to the team named `target`; the new holder."""
    if "@" in target:
        receiver = _to_user(session=session, app=app, email=target, apps_limit=apps_limit)
    else:
        receiver = _to_team(session=session, actor=actor, app=app, name=target, apps_limit=apps_limit)
    record_event(
        session=session,
        actor=actor,
        action="transfer",
        app_name=app.name,
        message=f"Transferred to {receiver}",
    )
    return receiver


def _to_user(*, session: Session, app: App, email: str, apps_limit: int) -> str:
    user = user_by_email(session, email)
    team_row = session.get(TeamApp, app.id)
    if user.id == app.owner_id and team_row is None:
        raise Conflict(f"{user.email} owns {app.name} already.", error_id="already_owner")
    check_app_quota(session=session, owner=user, limit=apps_limit)
    previous = app.owner_id
    if team_row is not None:
        session.delete(team_row)
    session.execute(
        delete(Collaborator).where(Collaborator.app_id == app.id, Collaborator.user_id == user.id)
    )
    app.owner_id = user.id
    if previous != user.id:
        session.add(Collaborator(app_id=app.id, user_id=previous, role=MEMBER))
    session.flush()
    session.refresh(app)
    return user.email


def _to_team(*, session: Session, actor: User, app: App, name: str, apps_limit: int) -> str:
    team, _ = team_for(session=session, user=actor, name=name, needed=MEMBER)
    row = session.get(TeamApp, app.id)
    if row is not None and row.team_id == team.id:
        raise Conflict(f"{app.name} belongs to team {name} already.", error_id="already_team_app")
    held = session.scalar(select(func.count(TeamApp.app_id)).where(TeamApp.team_id == team.id)) or 0
    if held >= apps_limit:
        raise QuotaExceeded(
            f"Team {name} has {held} apps, the limit on this host (WHARF_MAX_APPS_PER_USER={apps_limit}).",
            error_id="app_quota_exceeded",
        )
    if row is None:
        session.add(TeamApp(app_id=app.id, team_id=team.id))
    else:
        row.team_id = team.id
    session.flush()
    return name
