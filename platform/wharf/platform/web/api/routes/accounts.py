"""Sign-up with an invite, login, logout and the caller's account."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response

from wharf.platform.actions import accounts
from wharf.platform.errors import NotFound, TooManyRequests, Unauthorized
from wharf.platform.security.ratelimit import FailureLimiter, Limit, RateLimited
from wharf.platform.settings import Settings
from wharf.platform.web.api.schemas.accounts import LoginRequest, SessionPublic, SignupRequest, UserPublic
from wharf.platform.web.deps import ContextDep, CurrentTokenDep, CurrentUser, SessionDep

router = APIRouter(tags=["accounts"])


def _client(request: Request) -> str:
    return request.client.host if request.client else "unknown"


def _check(limiter: FailureLimiter, *limits: Limit) -> None:
    try:
        limiter.check(*limits)
    except RateLimited as exc:
        raise TooManyRequests(
            f"Too many failed attempts. Try again in {exc.retry_after} seconds.", retry_after=exc.retry_after
        ) from exc


def _login_limits(settings: Settings, client: str, email: str) -> tuple[Limit, Limit]:
    return (
        Limit("login-client", client, settings.wharf_auth_max_failures_per_client),
        Limit("login-account", email.strip().lower(), settings.wharf_auth_max_failures_per_account),
    )


@router.post("/signup", status_code=201)
def signup(body: SignupRequest, request: Request, session: SessionDep, context: ContextDep) -> SessionPublic:
    limit = Limit("invite-client", _client(request), context.settings.wharf_auth_max_failures_per_client)
    _check(context.limiter, limit)
    try:
        user, issued = accounts.signup(
            session=session, invite_code=body.invite, email=body.email, password=body.password
        )
    except NotFound:
        context.limiter.record_failure(limit)
        raise
    return SessionPublic(token=issued.secret, user=UserPublic.model_validate(user))


@router.post("/login")
def login(body: LoginRequest, request: Request, session: SessionDep, context: ContextDep) -> SessionPublic:
    limits = _login_limits(context.settings, _client(request), body.email)
    _check(context.limiter, *limits)
    try:
        user = accounts.authenticate(session=session, email=body.email, password=body.password)
    except Unauthorized:
        context.limiter.record_failure(*limits)
        raise
    issued = accounts.issue_token(session=session, user=user, description="wharf login")
    return SessionPublic(token=issued.secret, user=UserPublic.model_validate(user))


@router.post("/logout", status_code=204)
def logout(current: CurrentTokenDep, session: SessionDep) -> Response:
    user, token = current
    accounts.revoke_token(session=session, user=user, token_id=token.id)
    return Response(status_code=204)


@router.get("/account")
def account(user: CurrentUser) -> UserPublic:
    return UserPublic.model_validate(user)
