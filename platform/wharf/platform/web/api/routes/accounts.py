"""Sign-up with an invite, login, logout and the caller's account."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response

from wharf.platform.actions import accounts
from wharf.platform.web.api.schemas.accounts import LoginRequest, SessionPublic, SignupRequest, UserPublic
from wharf.platform.web.deps import ContextDep, CurrentTokenDep, CurrentUser, SessionDep, client_address

router = APIRouter(tags=["accounts"])


@router.post("/signup", status_code=201)
def signup(body: SignupRequest, request: Request, session: SessionDep, context: ContextDep) -> SessionPublic:
    user, issued = accounts.sign_up(
        session=session,
        limiter=context.limiter,
        settings=context.settings,
        client_address=client_address(request),
        invite_code=body.invite,
        email=body.email,
        password=body.password,
    )
    return SessionPublic(token=issued.secret, user=UserPublic.model_validate(user))


@router.post("/login")
def login(body: LoginRequest, request: Request, session: SessionDep, context: ContextDep) -> SessionPublic:
    user, issued = accounts.log_in(
        session=session,
        limiter=context.limiter,
        settings=context.settings,
        client_address=client_address(request),
        email=body.email,
        password=body.password,
        issued_for="wharf login",
        otp=body.otp,
    )
    return SessionPublic(token=issued.secret, user=UserPublic.model_validate(user))


@router.post("/logout", status_code=204)
def logout(current: CurrentTokenDep, session: SessionDep) -> Response:
    user, token = current
    accounts.revoke_token(session=session, user=user, token_id=token.id)
    return Response(status_code=204)


@router.get("/account")
def account(user: CurrentUser) -> UserPublic:
    return UserPublic.model_validate(user)
