"""Errors that reach users: each carries an HTTP status, a stable id and a message saying what to do."""

from __future__ import annotations


class WharfError(Exception):
    status_code = 400
    error_id = "bad_request"

    def __init__(self, message: str, *, error_id: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        if error_id is not None:
            self.error_id = error_id


class BadRequest(WharfError):
    status_code = 400
    error_id = "bad_request"


class Unauthorized(WharfError):
    status_code = 401
    error_id = "unauthorized"


class Forbidden(WharfError):
    status_code = 403
    error_id = "forbidden"


class NotFound(WharfError):
    status_code = 404
    error_id = "not_found"


class Conflict(WharfError):
    status_code = 409
    error_id = "conflict"


class Gone(WharfError):
    status_code = 410
    error_id = "gone"


class TooManyRequests(WharfError):
    status_code = 429
    error_id = "rate_limited"

    def __init__(self, message: str, *, retry_after: int, error_id: str | None = None) -> None:
        super().__init__(message, error_id=error_id)
        self.retry_after = retry_after
