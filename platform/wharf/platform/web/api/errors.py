"""Every error is a JSON body `{"id", "message"}` that says what to do."""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from wharf.platform.errors import TooManyRequests, Unauthorized, WharfError


def _body(error_id: str, message: str) -> dict[str, str]:
    return {"id": error_id, "message": message}


async def _wharf_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, WharfError)
    headers: dict[str, str] = {}
    if isinstance(exc, TooManyRequests):
        headers["Retry-After"] = str(exc.retry_after)
    if isinstance(exc, Unauthorized):
        # git answers a Basic challenge with the token from ~/.netrc, or asks for it.
        scheme = "Basic" if request.url.path.startswith("/git/") else "Bearer"
        headers["WWW-Authenticate"] = f'{scheme} realm="wharf"'
    return JSONResponse(_body(exc.error_id, exc.message), status_code=exc.status_code, headers=headers)


async def _validation_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    problems = []
    for error in exc.errors():
        where = ".".join(str(part) for part in error.get("loc", ()) if part != "body")
        problems.append(f"{where}: {error.get('msg', 'invalid')}" if where else str(error.get("msg")))
    message = "The request is not valid: " + "; ".join(problems) + ". See /api/docs for the expected fields."
    return JSONResponse(_body("invalid_request", message), status_code=422)


async def _http_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    messages = {
        404: "No such route. See /api/docs for the API's routes.",
        405: "That method is not allowed on this route. See /api/docs.",
    }
    message = messages.get(exc.status_code, str(exc.detail))
    return JSONResponse(
        _body("http_error" if exc.status_code != 404 else "not_found", message), status_code=exc.status_code
    )


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(WharfError, _wharf_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
