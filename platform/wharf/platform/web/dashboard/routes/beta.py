"""Public beta pages (join the waitlist, confirm, forgotten password) and the operator's waitlist page.

Each form counts against the same per-client limits as the API's, and answers alike whether or not
the email is known.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request, Response

from wharf.platform.actions import passwords, waitlist
from wharf.platform.errors import Forbidden, TooManyRequests, WharfError
from wharf.platform.web.dashboard.rendering import DashboardRoute, render
from wharf.platform.web.dashboard.session import CsrfChecked, DashboardUser
from wharf.platform.web.deps import ContextDep, SessionDep, client_address

router = APIRouter(route_class=DashboardRoute, include_in_schema=False)

EmailField = Annotated[str, Form(min_length=1, max_length=254)]
TokenField = Annotated[str, Form(min_length=1, max_length=128)]


def _failed(request: Request, template: str, exc: WharfError, page: dict[str, object]) -> Response:
    headers = {"Retry-After": str(exc.retry_after)} if isinstance(exc, TooManyRequests) else None
    return render(
        request, template, {**page, "error": exc.message}, status_code=exc.status_code, headers=headers
    )


@router.get("/beta")
def beta_page(request: Request) -> Response:
    return render(request, "beta.html")


@router.post("/beta", dependencies=[CsrfChecked])
def join_beta(request: Request, session: SessionDep, context: ContextDep, email: EmailField) -> Response:
    try:
        message = waitlist.join_waitlist(
            session=session,
            limiter=context.limiter,
            settings=context.settings,
            client_address=client_address(request),
            email=email,
        )
    except WharfError as exc:
        return _failed(request, "beta.html", exc, {"email": email})
    return render(request, "beta.html", {"notice": message}, status_code=202)


@router.get("/beta/confirm")
def confirm_page(request: Request, token: str = "") -> Response:
    # A page with a button, not a confirmation on GET: mail scanners that open links use no link up.
    return render(request, "beta_confirm.html", {"token": token[:128]})


@router.post("/beta/confirm", dependencies=[CsrfChecked])
def confirm(request: Request, session: SessionDep, token: TokenField) -> Response:
    try:
        waitlist.confirm_waitlist(session=session, token=token)
    except WharfError as exc:
        return _failed(request, "beta_confirm.html", exc, {})
    return render(request, "beta_confirm.html", {"confirmed": True})


@router.get("/forgot-password")
def forgot_page(request: Request) -> Response:
    return render(request, "forgot_password.html")


@router.post("/forgot-password", dependencies=[CsrfChecked])
def forgot(request: Request, session: SessionDep, context: ContextDep, email: EmailField) -> Response:
    try:
        message = passwords.request_reset(
            session=session,
            limiter=context.limiter,
            settings=context.settings,
            client_address=client_address(request),
            email=email,
        )
    except WharfError as exc:
        return _failed(request, "forgot_password.html", exc, {"email": email})
    return render(request, "forgot_password.html", {"notice": message}, status_code=202)


@router.get("/reset-password")
def reset_page(request: Request, token: str = "") -> Response:
    return render(request, "reset_password.html", {"token": token[:128]})


@router.post("/reset-password", dependencies=[CsrfChecked])
def reset(
    request: Request,
    session: SessionDep,
    token: TokenField,
    password: Annotated[str, Form(min_length=1, max_length=1024)],
) -> Response:
    try:
        passwords.reset_password(session=session, token=token, new_password=password)
    except WharfError as exc:
        return _failed(request, "reset_password.html", exc, {"token": token})
    return render(request, "reset_password.html", {"done": True})


def _require_admin(user: DashboardUser) -> None:
    if not user.is_admin:
        raise Forbidden("Only the operator's admins see the waitlist.", error_id="admin_only")


@router.get("/admin/waitlist")
def waitlist_page(request: Request, session: SessionDep, user: DashboardUser) -> Response:
    _require_admin(user)
    return render(request, "admin_waitlist.html", _waitlist_context(session, user))


@router.post("/admin/waitlist", dependencies=[CsrfChecked])
def approve(
    request: Request,
    session: SessionDep,
    context: ContextDep,
    user: DashboardUser,
    emails: Annotated[list[str] | None, Form(max_length=500)] = None,
    next: Annotated[int | None, Form(ge=1, le=500)] = None,
) -> Response:
    _require_admin(user)
    page = _waitlist_context(session, user)
    try:
        approvals = waitlist.approve(
            session=session,
            settings=context.settings,
            emails=emails or None,
            next_count=None if emails else next,
        )
    except WharfError as exc:
        session.rollback()
        return _failed(request, "admin_waitlist.html", exc, page)
    page = _waitlist_context(session, user)
    page["approved"] = [a.email for a in approvals]
    return render(request, "admin_waitlist.html", page)


def _waitlist_context(session: SessionDep, user: DashboardUser) -> dict[str, object]:
    entries = waitlist.list_waitlist(session=session)
    return {"user": user, "entries": entries}
