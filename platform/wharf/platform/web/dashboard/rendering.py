"""Rendering of dashboard pages, and the errors they show instead of the API's JSON.

Every change is a plain form POST answered with a redirect to the page that shows the result
(post/redirect/get), so the dashboard works without JavaScript; htmx only swaps the section that
changed. Errors become an HTML page, or for an htmx request a message in the page's alert region.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote

from fastapi import Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, RedirectResponse
from fastapi.routing import APIRoute
from fastapi.templating import Jinja2Templates
from markupsafe import Markup, escape

from wharf.platform.errors import BadRequest, TooManyRequests, WharfError
from wharf.platform.security.passwords import MIN_PASSWORD_LENGTH
from wharf.platform.web.dashboard.session import (
    CSRF_FIELD,
    LoginRequired,
    csrf_token,
    remember_pre_session_seed,
)

PACKAGE_DIR = Path(__file__).resolve().parent
STATIC_DIR = PACKAGE_DIR / "static"
templates = Jinja2Templates(directory=PACKAGE_DIR / "templates")

# Scripts and styles come from this origin only; no inline script runs, and no other site may frame us.
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
)


def csrf_field(request: Request) -> Markup:
    value = escape(csrf_token(request))
    return Markup(f'<input type="hidden" name="{CSRF_FIELD}" value="{value}">')  # noqa: S704


def time_ago(moment: datetime | None) -> str:
    if moment is None:
        return ""
    seconds = int((datetime.now(UTC) - moment).total_seconds())
    for unit, size in (("day", 86400), ("hour", 3600), ("minute", 60)):
        if seconds >= size:
            count = seconds // size
            return f"{count} {unit}{'s' if count != 1 else ''} ago"
    return "just now"


def human_bytes(count: int | None) -> str:
    if count is None:
        return ""
    size = float(count)
    for unit in ("B", "KB", "MB", "GB"):
        if size < 1024 or unit == "GB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{size:.1f} GB"


templates.env.globals["csrf_field"] = csrf_field
templates.env.globals["min_password_length"] = MIN_PASSWORD_LENGTH
templates.env.filters["time_ago"] = time_ago
templates.env.filters["human_bytes"] = human_bytes


def secure_headers(response: Response) -> Response:
    response.headers["Content-Security-Policy"] = CONTENT_SECURITY_POLICY
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Referrer-Policy"] = "same-origin"
    response.headers["Cache-Control"] = "no-store"
    return response


def render(
    request: Request,
    template: str,
    context: dict[str, Any] | None = None,
    *,
    status_code: int = 200,
    headers: dict[str, str] | None = None,
) -> HTMLResponse:
    response = templates.TemplateResponse(
        request, template, context or {}, status_code=status_code, headers=headers
    )
    remember_pre_session_seed(response, request)
    secure_headers(response)
    return response


def redirect(path: str) -> RedirectResponse:
    """See Other: the browser (or htmx's XHR) follows with a GET of the page that shows the change."""
    response = RedirectResponse(path, status_code=303)
    secure_headers(response)
    return response


def is_htmx(request: Request) -> bool:
    return request.headers.get("HX-Request") == "true"


def error_response(request: Request, exc: WharfError) -> HTMLResponse:
    headers: dict[str, str] = {}
    if isinstance(exc, TooManyRequests):
        headers["Retry-After"] = str(exc.retry_after)
    if is_htmx(request):
        # Shown in the page's alert region instead of replacing the section the form was in.
        headers.update({"HX-Retarget": "#flash", "HX-Reswap": "innerHTML", "HX-Reselect": "#flash-message"})
        return render(
            request,
            "partials/flash.html",
            {"message": exc.message},
            status_code=exc.status_code,
            headers=headers,
        )
    return render(
        request,
        "error.html",
        {"exc": exc, "back": request.headers.get("referer")},
        status_code=exc.status_code,
        headers=headers,
    )


def login_redirect(request: Request, exc: LoginRequired) -> Response:
    target = "/login" if exc.next_path in ("/", "/apps") else f"/login?next={quote(exc.next_path)}"
    if is_htmx(request):
        return Response(status_code=204, headers={"HX-Redirect": target})
    return redirect(target)


def validation_message(exc: RequestValidationError) -> str:
    fields = sorted({str(error.get("loc", ("", "form"))[-1]) for error in exc.errors()})
    return f"Check these fields and send the form again: {', '.join(fields)}."


class DashboardRoute(APIRoute):
    """Answers service errors and missing sessions with pages, where the API answers with JSON."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handle = super().get_route_handler()

        async def handle_with_pages(request: Request) -> Response:
            try:
                return await handle(request)
            except LoginRequired as exc:
                return login_redirect(request, exc)
            except WharfError as exc:
                return error_response(request, exc)
            except RequestValidationError as exc:
                return error_response(request, BadRequest(validation_message(exc), error_id="invalid_form"))

        return handle_with_pages
