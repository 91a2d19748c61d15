"""Errors the user can act on, shown the way Heroku's CLI shows them."""

from __future__ import annotations

import sys

ERROR_PREFIX = " ▸    "


def format_error(message: str) -> str:
    """Prefix every line, so multi-line messages stay readable in a terminal."""
    lines = message.rstrip().splitlines() or [""]
    return "\n".join(ERROR_PREFIX + line for line in lines)


class WharfError(Exception):
    """A failure explained to the user: printed to stderr with the ▸ prefix, exit status 1.

    Commands registered with `registry.add_command` turn it into that output, with no traceback.
    """

    exit_code = 1

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def format_message(self) -> str:
        return self.message

    def show(self) -> None:
        sys.stderr.write(format_error(self.message) + "\n")
        sys.stderr.flush()


class NotLoggedInError(WharfError):
    def __init__(self) -> None:
        super().__init__(
            "Not logged in. Run wharf login --api URL (or wharf signup), or set WHARF_API_TOKEN."
        )


class ApiError(WharfError):
    """The API answered with an error body `{"id", "message"}`."""

    def __init__(self, status: int, error_id: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.error_id = error_id


class ApiUnreachableError(WharfError):
    """No HTTP answer at all: wrong URL, server down, DNS failure."""
