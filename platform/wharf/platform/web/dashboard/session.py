"""Browser sessions and CSRF tokens.

A dashboard session is an ordinary API token (so logging out revokes it, and it shows up in
`wharf auth:tokens`), kept in an HttpOnly, SameSite=Lax cookie that is Secure when the request
came over HTTPS. Every form carries a CSRF token derived from the session's secret, so a page on
another site can neither read it nor forge it; before login the seed is a random cookie instead.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from typing import Annotated

from fastapi import Depends, Form, Header, Request, Response
from sqlalchemy.orm import Session

from wharf.platform.actions.accounts import TokenExpired, user_for_token
from wharf.platform.actions.apps import get_owned_app
from wharf.platform.actions.roles import ADMIN, MEMBER, VIEWER
from wharf.platform.errors import Forbidden
from wharf.platform.models import ApiToken, App, User
from wharf.platform.web.deps import SessionDep

SESSION_COOKIE = "wharf_session"
PRE_SESSION_COOKIE = "wharf_csrf"
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "X-CSRF-Token"
SESSION_TOKEN_DESCRIPTION = "dashboard session"  # noqa: S105  (a label, not a secret)


class LoginRequired(Exception):
    """Raised by dashboard routes without a valid session; answered with a redirect to the login page."""

    def __init__(self, next_path: str) -> None:
        super().__init__(next_path)
        self.next_path = next_path


def is_https(request: Request) -> bool:
    """Served over TLS, directly or by a proxy that says so.

    Trusting X-Forwarded-Proto here is safe: it can only add the Secure flag, never remove it.
    """
    forwarded = request.headers.get("x-forwarded-proto", "").split(",")[0].strip().lower()
    return request.url.scheme == "https" or forwarded == "https"


def _set_cookie(response: Response, request: Request, name: str, value: str, max_age: int | None) -> None:
    response.set_cookie(
        name,
        value,
        max_age=max_age,
        path="/",
        httponly=True,
        samesite="lax",
        secure=is_https(request),
    )


def set_session_cookie(response: Response, request: Request, secret: str, *, max_age: int) -> None:
    _set_cookie(response, request, SESSION_COOKIE, secret, max_age)
    response.delete_cookie(PRE_SESSION_COOKIE, path="/")


def clear_session_cookie(response: Response, request: Request) -> None:
    response.delete_cookie(SESSION_COOKIE, path="/", httponly=True, samesite="lax", secure=is_https(request))


def current_user_from_cookie(request: Request, session: Session) -> tuple[User, ApiToken] | None:
    """The user and token of the request's session cookie, or None.

    The API can fall back to this for GET requests (such as the log stream an EventSource opens),
    which are never state-changing and so need no CSRF token.
    """
    secret = request.cookies.get(SESSION_COOKIE)
    if not secret:
        return None
    try:
        return user_for_token(session=session, secret=secret)
    except TokenExpired:
        return None


def get_optional_session(request: Request, session: SessionDep) -> tuple[User, ApiToken] | None:
    return current_user_from_cookie(request, session)


OptionalSession = Annotated[tuple[User, ApiToken] | None, Depends(get_optional_session)]


def get_session_token(request: Request, current: OptionalSession) -> tuple[User, ApiToken]:
    if current is None:
        next_path = request.url.path if request.method == "GET" else "/apps"
        raise LoginRequired(next_path)
    return current


SessionTokenDep = Annotated[tuple[User, ApiToken], Depends(get_session_token)]


def get_dashboard_user(current: SessionTokenDep) -> User:
    return current[0]


DashboardUser = Annotated[User, Depends(get_dashboard_user)]


def csrf_token_for(seed: str) -> str:
    return hmac.new(seed.encode(), b"wharf-dashboard-csrf", hashlib.sha256).hexdigest()


def csrf_token(request: Request) -> str:
    """The token forms on this page must send back: from the session, else from a pre-session cookie."""
    seed = (
        request.cookies.get(SESSION_COOKIE)
        or request.cookies.get(PRE_SESSION_COOKIE)
        or getattr(request.state, "new_pre_session_seed", None)
    )
    if not seed:
        seed = secrets.token_urlsafe(32)
        request.state.new_pre_session_seed = seed
    return csrf_token_for(seed)


def remember_pre_session_seed(response: Response, request: Request) -> None:
    """Set the pre-session cookie when this response's forms were signed with a fresh seed."""
    seed = getattr(request.state, "new_pre_session_seed", None)
    if seed:
        _set_cookie(response, request, PRE_SESSION_COOKIE, seed, None)


def check_csrf(
    request: Request,
    csrf_form: Annotated[str | None, Form(alias=CSRF_FIELD)] = None,
    csrf_header: Annotated[str | None, Header(alias=CSRF_HEADER)] = None,
) -> None:
    """Refuse a POST whose token does not match this browser's session (or pre-session) seed."""
    seed = request.cookies.get(SESSION_COOKIE) or request.cookies.get(PRE_SESSION_COOKIE)
    sent = csrf_form or csrf_header
    if not seed or not sent or not hmac.compare_digest(sent, csrf_token_for(seed)):
        raise Forbidden(
            "This form has expired or did not come from this dashboard. Reload the page and try again.",
            error_id="csrf_failed",
        )


CsrfChecked = Depends(check_csrf)


def get_dashboard_app(app_name: str, session: SessionDep, user: DashboardUser) -> App:
    """The app if this user is a member or admin of it; without any role it answers 404, as in the API."""
    return get_owned_app(session=session, user=user, name=app_name, role=MEMBER)


def get_dashboard_viewer_app(app_name: str, session: SessionDep, user: DashboardUser) -> App:
    return get_owned_app(session=session, user=user, name=app_name, role=VIEWER)


def get_dashboard_admin_app(app_name: str, session: SessionDep, user: DashboardUser) -> App:
    return get_owned_app(session=session, user=user, name=app_name, role=ADMIN)


DashboardApp = Annotated[App, Depends(get_dashboard_app)]
DashboardViewerApp = Annotated[App, Depends(get_dashboard_viewer_app)]
DashboardAdminApp = Annotated[App, Depends(get_dashboard_admin_app)]
