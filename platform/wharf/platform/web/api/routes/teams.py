"""Teams and their members: anyone on a team reads it, its admins change who is on it."""

from __future__ import annotations

from fastapi import APIRouter, Response

from wharf.platform.actions import teams
from wharf.platform.actions.roles import ADMIN, VIEWER
from wharf.platform.web.api.schemas.access import MemberPublic, MemberSet, TeamCreate, TeamPublic
from wharf.platform.web.deps import ContextDep, CurrentUser, SessionDep

router = APIRouter(prefix="/teams", tags=["teams"])


@router.get("")
def list_teams(user: CurrentUser, session: SessionDep) -> list[TeamPublic]:
    return [TeamPublic(**vars(team)) for team in teams.list_teams(session=session, user=user)]


@router.post("", status_code=201)
def create_team(body: TeamCreate, user: CurrentUser, session: SessionDep, context: ContextDep) -> TeamPublic:
    team = teams.create_team(
        session=session, creator=user, name=body.name, limit=context.settings.wharf_max_teams_per_user
    )
    return TeamPublic(**vars(team))


@router.get("/{team_name}/members")
def list_members(team_name: str, user: CurrentUser, session: SessionDep) -> list[MemberPublic]:
    team, _ = teams.team_for(session=session, user=user, name=team_name, needed=VIEWER)
    return [MemberPublic(**vars(member)) for member in teams.list_members(session=session, team=team)]


@router.put("/{team_name}/members")
def set_member(
    team_name: str, body: MemberSet, user: CurrentUser, session: SessionDep, context: ContextDep
) -> MemberPublic:
    team, _ = teams.team_for(session=session, user=user, name=team_name, needed=ADMIN)
    member = teams.set_member(
        session=session,
        team=team,
        email=body.email,
        role=body.role,
        limit=context.settings.wharf_max_members_per_team,
    )
    return MemberPublic(**vars(member))


@router.delete("/{team_name}/members/{email}", status_code=204)
def remove_member(team_name: str, email: str, user: CurrentUser, session: SessionDep) -> Response:
    team, _ = teams.team_for(session=session, user=user, name=team_name, needed=ADMIN)
    teams.remove_member(session=session, team=team, email=email)
    return Response(status_code=204)
