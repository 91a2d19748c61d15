"""Config vars: read, and change (which makes a new release)."""

from __future__ import annotations

from fastapi import APIRouter

from wharf.platform.actions import config as config_vars
from wharf.platform.records import releases
from wharf.platform.web.deps import ContextDep, CurrentUser, MemberApp, SessionDep

router = APIRouter(prefix="/apps/{app_name}/config", tags=["config"])


@router.get("")
def get_config(app: MemberApp, session: SessionDep, context: ContextDep) -> dict[str, str]:
    return releases.current_config(session=session, cipher=context.cipher, app=app)


@router.patch("")
def update_config(
    changes: dict[str, str | None],
    app: MemberApp,
    user: CurrentUser,
    session: SessionDep,
    context: ContextDep,
) -> dict[str, str]:
    config, _release = config_vars.update_config(
        session=session, cipher=context.cipher, app=app, actor=user, changes=changes
    )
    return config
