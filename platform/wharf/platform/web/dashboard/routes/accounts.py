"""Sign-up with an invite, login, logout, and the user's invites.

Failed logins and invite redemptions count against the same per-client and per-account limits
as the API's, so the dashboard is no side door for guessing passwords or codes.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request, Response

from wharf.platform.actions import accounts, invites
from wharf.platform.errors import TooManyRequests, WharfError
from wharf.platform.web.context import ApiContext
from wharf.platform.web.dashboard.rendering import DashboardRoute, redirect, render
from wharf.platform.web.dashboard.session import (
    SESSION_TOKEN_DESCRIPTION,
    CsrfChecked,
    DashboardUser,
    OptionalSession,
    SessionTokenDep,
    clear_session_cookie,
    set_session_cookie,
)
from wharf.platform.web.deps import ContextDep, SessionDep, client_address

router = APIRouter(route_class=DashboardRoute, include_in_schema=False)

EmailField = Annotated[str, Form(min_length=1, max_length=254)]
PasswordField = Annotated[str, Form(min_length=1, max_length=1024)]


def safe_next(path: str | None) -> str:
    """Only a path on this site: never `//other.example` or a full URL (no open redirect)."""
    if path and path.startswith("/") and not path.startswith("//") and "\\" not in path:
        return path
    return "/apps"


def _retry_after(exc: WharfError) -> dict[str, str] | None:
    return {"Retry-After": str(exc.retry_after)} if isinstance(exc, TooManyRequests) else None


def _signed_in(request: Request, context: ApiContext, secret: str, next_path: str) -> Response:
    response = redirect(safe_next(next_path))
    lifetime = accounts.session_lifetime(context.settings)
    set_session_cookie(response, request, secret, max_age=int(lifetime.total_seconds()))
    return response


@router.get("/")
def home(current: OptionalSession) -> Response:
    return redirect("/apps" if current else "/login")


@router.get("/login")
def login_page(request: Request, current: OptionalSession, next: str | None = None) -> Response:
    if current is not None:
        return redirect(safe_next(next))
    return render(request, "login.html", {"next": safe_next(next)})


@router.post("/login", dependencies=[CsrfChecked])
def login(
    request: Request,
    session: SessionDep,
    context: ContextDep,
    email: EmailField,
    password: PasswordField,
    next: Annotated[str, Form()] = "/apps",
    otp: Annotated[str, Form(max_length=64)] = "",
) -> Response:
    try:
        _, issued = accounts.log_in(
            session=session,
            limiter=context.limiter,
            settings=context.settings,
            client_address=client_address(request),
            email=email,
            password=password,
            issued_for=SESSION_TOKEN_DESCRIPTION,
            expires_in=accounts.session_lifetime(context.settings),
            otp=otp.strip() or None,
        )
    except WharfError as exc:
        return render(
            request,
            "login.html",
            {"error": exc.message, "email": email, "next": safe_next(next)},
            status_code=exc.status_code,
            headers=_retry_after(exc),
        )
    return _signed_in(request, context, issued.secret, next)


@router.get("/signup")
def signup_page(request: Request, invite: str = "") -> Response:
    return render(request, "signup.html", {"invite": invite[:100]})


@router.post("/signup", dependencies=[CsrfChecked])
def signup(
    request: Request,
    session: SessionDep,
    context: ContextDep,
    invite: Annotated[str, Form(min_length=1, max_length=100)],
    email: EmailField,
    password: PasswordField,
) -> Response:
    try:
        user, _ = accounts.sign_up(
            session=session,
            limiter=context.limiter,
            settings=context.settings,
            client_address=client_address(request),
            invite_code=invite,
            email=email,
            password=password,
        )
    except WharfError as exc:
        # Undo the claimed invite use with the account that was refused.
        session.rollback()
        return render(
            request,
            "signup.html",
            {"error": exc.message, "invite": invite, "email": email},
            status_code=exc.status_code,
            headers=_retry_after(exc),
        )
    issued = accounts.issue_token(
        session=session,
        user=user,
        description=SESSION_TOKEN_DESCRIPTION,
        expires_in=accounts.session_lifetime(context.settings),
    )
    return _signed_in(request, context, issued.secret, "/apps")


@router.post("/logout", dependencies=[CsrfChecked])
def logout(request: Request, session: SessionDep, current: SessionTokenDep) -> Response:
    user, token = current
    accounts.revoke_token(session=session, user=user, token_id=token.id)
    response = redirect("/login")
    clear_session_cookie(response, request)
    return response


@router.get("/invites")
def invites_page(request: Request, session: SessionDep, context: ContextDep, user: DashboardUser) -> Response:
    return render(request, "invites.html", _invites_context(session, context, user))


@router.post("/invites", dependencies=[CsrfChecked])
def create_invite(
    request: Request,
    session: SessionDep,
    context: ContextDep,
    user: DashboardUser,
    note: Annotated[str, Form(max_length=200)] = "",
) -> Response:
    made = invites.create_user_invite(
        session=session, user=user, default_quota=context.settings.wharf_invite_quota, note=note
    )
    page = _invites_context(session, context, user)
    page["new_code"] = made.code
    page["signup_url"] = f"{str(request.base_url).rstrip('/')}/signup?invite={made.code}"
    # Rendered, not redirected: the code is shown once and never stored in clear.
    return render(request, "invites.html", page, status_code=201)


def _invites_context(session: SessionDep, context: ContextDep, user: DashboardUser) -> dict[str, object]:
    return {
        "user": user,
        "invites": invites.list_user_invites(session=session, user=user),
        "remaining": invites.remaining_quota(
            session=session, user=user, default_quota=context.settings.wharf_invite_quota
        ),
    }
