"""Formation: dyno counts and sizes per process type."""

from __future__ import annotations

from fastapi import APIRouter

from wharf.platform.actions import formation
from wharf.platform.models import Formation
from wharf.platform.web.api.schemas.apps import FormationPublic, FormationUpdate
from wharf.platform.web.deps import CurrentUser, MemberApp, SessionDep, ViewerApp

router = APIRouter(prefix="/apps/{app_name}/formation", tags=["formation"])


def _public(rows: list[Formation]) -> list[FormationPublic]:
    return [FormationPublic(type=r.process_type, quantity=r.quantity, size=r.size) for r in rows]


@router.get("")
def get_formation(app: ViewerApp, session: SessionDep) -> list[FormationPublic]:
    return _public(formation.list_formation(session=session, app=app))


@router.patch("")
def update_formation(
    body: FormationUpdate, app: MemberApp, user: CurrentUser, session: SessionDep
) -> list[FormationPublic]:
    changes = [
        formation.FormationChange(process_type=u.type, quantity=u.quantity, size=u.size) for u in body.updates
    ]
    return _public(formation.update_formation(session=session, app=app, actor=user, changes=changes))
