"""The user's sessions and tokens in the dashboard: listed and revocable."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response

from wharf.platform.actions import accounts, twofactor
from wharf.platform.web.dashboard.rendering import DashboardRoute, redirect, render
from wharf.platform.web.dashboard.session import CsrfChecked, SessionTokenDep
from wharf.platform.web.deps import RowId, SessionDep

router = APIRouter(route_class=DashboardRoute, include_in_schema=False)


@router.get("/account/sessions")
def sessions_page(request: Request, session: SessionDep, current: SessionTokenDep) -> Response:
    user, token = current
    return render(
        request,
        "sessions.html",
        {
            "user": user,
            "tokens": accounts.list_tokens(session=session, user=user),
            "current_id": token.id,
            "two_factor": twofactor.confirmed_factor(session=session, user=user) is not None,
        },
    )


@router.post("/account/sessions/{token_id}/revoke", dependencies=[CsrfChecked])
def revoke(token_id: RowId, session: SessionDep, current: SessionTokenDep) -> Response:
    user, _ = current
    accounts.revoke_token(session=session, user=user, token_id=token_id)
    return redirect("/account/sessions")
