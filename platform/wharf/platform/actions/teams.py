"""Teams: a name and members with roles; a team's apps give each member their team role on them.

A user who is not on a team does not see it (404). Members and viewers read the member list; admins
add and remove members; the last admin cannot leave or be demoted, so a team never loses its admins.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from wharf.platform.actions.access import user_by_email
from wharf.platform.actions.roles import ADMIN, at_least, check_role_name
from wharf.platform.errors import BadRequest, Conflict, Forbidden, NotFound, QuotaExceeded
from wharf.platform.models import Team, TeamApp, TeamMember, User
from wharf.platform.security.names import validate_team_name


@dataclass(frozen=True)
class TeamView:
    name: str
    role: str
    members: int
    apps: int


@dataclass(frozen=True)
class MemberView:
    email: str
    role: str


def _team_not_found(name: str) -> NotFound:
    return NotFound(
        f"Couldn't find that team ({name}). Check the name with `wharf teams`.", error_id="team_not_found"
    )


def create_team(*, session: Session, creator: User, name: str, limit: int) -> TeamView:
    validate_team_name(name)
    joined = session.scalar(select(func.count(TeamMember.id)).where(TeamMember.user_id == creator.id)) or 0
    if joined >= limit:
        raise QuotaExceeded(
            f"You are on {joined} teams, the limit on this host (WHARF_MAX_TEAMS_PER_USER={limit}).",
            error_id="team_quota_exceeded",
        )
    if session.scalar(select(Team.id).where(Team.name == name)) is not None:
        raise Conflict(f"The team name {name} is taken. Choose another.", error_id="team_name_taken")
    team = Team(name=name)
    session.add(team)
    session.flush()
    session.add(TeamMember(team_id=team.id, user_id=creator.id, role=ADMIN))
    return TeamView(name=name, role=ADMIN, members=1, apps=0)


def team_for(*, session: Session, user: User, name: str, needed: str) -> tuple[Team, str]:
    """The team and the user's role on it; 404 when they are not on it, 403 when the role is too low."""
    team = session.scalar(select(Team).where(Team.name == name))
    role = None
    if team is not None:
        role = session.scalar(
            select(TeamMember.role).where(TeamMember.team_id == team.id, TeamMember.user_id == user.id)
        )
    if team is None or role is None:
        raise _team_not_found(name)
    if not at_least(role, needed):
        raise Forbidden(
            f"This needs the {needed} role on team {name}; you are a {role}. Ask an admin of the team.",
            error_id="team_role_required",
        )
    return team, role


def list_teams(*, session: Session, user: User) -> list[TeamView]:
    rows = session.execute(
        select(Team, TeamMember.role)
        .join(TeamMember, TeamMember.team_id == Team.id)
        .where(TeamMember.user_id == user.id)
        .order_by(Team.name)
    )
    found = []
    for team, role in rows:
        members = session.scalar(select(func.count(TeamMember.id)).where(TeamMember.team_id == team.id)) or 0
        apps = session.scalar(select(func.count(TeamApp.app_id)).where(TeamApp.team_id == team.id)) or 0
        found.append(TeamView(name=team.name, role=role, members=members, apps=apps))
    return found


def list_members(*, session: Session, team: Team) -> list[MemberView]:
    rows = session.scalars(select(TeamMember).where(TeamMember.team_id == team.id))
    return sorted((MemberView(email=row.user.email, role=row.role) for row in rows), key=lambda m: m.email)


def _membership(session: Session, *, team: Team, user: User) -> TeamMember | None:
    return session.scalar(
        select(TeamMember).where(TeamMember.team_id == team.id, TeamMember.user_id == user.id)
    )


def _other_admins(session: Session, *, team: Team, user: User) -> int:
    return (
        session.scalar(
            select(func.count(TeamMember.id)).where(
                TeamMember.team_id == team.id, TeamMember.role == ADMIN, TeamMember.user_id != user.id
            )
        )
        or 0
    )


def set_member(*, session: Session, team: Team, email: str, role: str, limit: int) -> MemberView:
    """Add a member, or change the role of one already on the team."""
    check_role_name(role)
    user = user_by_email(session, email)
    row = _membership(session, team=team, user=user)
    if row is None:
        count = session.scalar(select(func.count(TeamMember.id)).where(TeamMember.team_id == team.id)) or 0
        if count >= limit:
            raise QuotaExceeded(
                f"Team {team.name} has {count} members, the limit (WHARF_MAX_MEMBERS_PER_TEAM={limit}).",
                error_id="member_quota_exceeded",
            )
        session.add(TeamMember(team_id=team.id, user_id=user.id, role=role))
    else:
        if row.role == ADMIN and role != ADMIN and _other_admins(session, team=team, user=user) == 0:
            raise BadRequest(f"{user.email} is the last admin of {team.name}; make another admin first.")
        row.role = role
    return MemberView(email=user.email, role=role)


def remove_member(*, session: Session, team: Team, email: str) -> None:
    user = user_by_email(session, email)
    row = _membership(session, team=team, user=user)
    if row is None:
        raise NotFound(f"{user.email} is not on team {team.name}.", error_id="member_not_found")
    if row.role == ADMIN and _other_admins(session, team=team, user=user) == 0:
        raise BadRequest(f"{user.email} is the last admin of {team.name}; make another admin first.")
    session.delete(row)


def teams_only_user_admins(*, session: Session, user: User) -> list[Team]:
    """The teams that hold apps and have `user` as their only admin: they would be left with no one to
    run them if the account went."""
    rows = session.scalars(
        select(Team)
        .join(TeamMember, TeamMember.team_id == Team.id)
        .where(TeamMember.user_id == user.id, TeamMember.role == ADMIN)
        .order_by(Team.name)
    )
    return [
        team
        for team in rows
        if _other_admins(session, team=team, user=user) == 0
        and session.scalar(select(func.count(TeamApp.app_id)).where(TeamApp.team_id == team.id))
    ]
