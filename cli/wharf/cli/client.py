"""A typed client for the Wharf control-plane API (docs/api.md).

Every failure becomes a WharfError whose message the user can act on: the API's own `message`,
a retry delay for 429, or which URL could not be reached and how to change it.
"""

from __future__ import annotations

import ssl
from collections.abc import Mapping
from typing import Any, NotRequired, TypedDict, cast
from urllib.parse import quote

import httpx

from wharf.cli.errors import ApiError, ApiUnreachableError

USER_AGENT = "wharf-cli/0.1"


class User(TypedDict):
    id: int
    email: str
    is_admin: bool
    invite_quota: int
    created_at: str


class Session(TypedDict):
    token: str
    user: User


class App(TypedDict):
    id: int
    name: str
    owner: str
    web_url: str
    git_url: str
    maintenance: bool
    current_release: int | None
    created_at: str
    role: NotRequired[str | None]
    team: NotRequired[str | None]


class Release(TypedDict):
    version: int
    description: str
    status: str
    build_id: int | None
    created_by: str | None
    created_at: str
    test_status: NotRequired[str | None]
    current: bool


class Redemption(TypedDict):
    email: str
    redeemed_at: str


class Invite(TypedDict):
    id: int
    hint: str
    uses: int
    max_uses: int
    expires_at: str | None
    note: str | None
    created_at: str
    redeemed_by: list[Redemption]


class CreatedInvite(Invite):
    code: str


class CreatedToken(TypedDict):
    id: int
    description: str
    prefix: str
    created_at: str
    last_used_at: str | None
    expires_at: str | None
    token: str


class WharfClient:
    """One API endpoint and (optionally) one token; `transport` lets tests answer without a server."""

    def __init__(
        self,
        base_url: str,
        token: str | None = None,
        transport: httpx.BaseTransport | None = None,
        verify: ssl.SSLContext | None = None,
    ) -> None:
        self.base_url = base_url
        headers = {"User-Agent": USER_AGENT, "Accept": "application/json"}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        self._http = httpx.Client(
            base_url=base_url.rstrip("/") + "/api",
            headers=headers,
            timeout=30.0,
            transport=transport,
            verify=verify if verify is not None else ssl.create_default_context(),
        )

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> WharfClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def request(self, method: str, path: str, body: object = None) -> Any:
        """Send one request; return the decoded JSON (None for an empty answer) or raise WharfError."""
        try:
            response = self._http.request(method, path, json=body)
        except httpx.TransportError as error:
            raise ApiUnreachableError(self._unreachable_message(error)) from error
        if response.status_code >= 400:
            raise error_from_response(response)
        if not response.content:
            return None
        return response.json()

    def _unreachable_message(self, error: httpx.TransportError) -> str:
        reason = str(error) or type(error).__name__
        if "CERTIFICATE_VERIFY_FAILED" in reason:
            return (
                f"The certificate of {self.base_url} is not trusted ({reason}).\n"
                "If your operator runs Wharf's own authority, get its root (`wharfd ca` on the server, "
                "or /api/ca.pem) and log in with wharf login --api URL --ca FILE."
            )
        return (
            f"Could not reach the Wharf API at {self.base_url} ({reason}).\n"
            "Check that the server is running, or set its URL with wharf login --api URL "
            "or the WHARF_API_URL environment variable."
        )

    # Accounts

    def signup(self, *, invite: str, email: str, password: str) -> Session:
        body = {"invite": invite, "email": email, "password": password}
        return cast(Session, self.request("POST", "/signup", body))

    def login(self, *, email: str, password: str, otp: str | None = None) -> Session:
        body = {"email": email, "password": password}
        if otp:
            body["otp"] = otp
        return cast(Session, self.request("POST", "/login", body))

    def logout(self) -> None:
        self.request("POST", "/logout")

    def account(self) -> User:
        return cast(User, self.request("GET", "/account"))

    def create_token(self, *, description: str, expires_in: int | None) -> CreatedToken:
        body: dict[str, object] = {"description": description, "expires_in": expires_in}
        return cast(CreatedToken, self.request("POST", "/tokens", body))

    def invites(self) -> list[Invite]:
        return cast(list[Invite], self.request("GET", "/invites"))

    def create_invite(self, *, note: str | None = None, email: str | None = None) -> CreatedInvite:
        body: dict[str, str] = {"note": note} if note else {}
        if email:
            body["email"] = email
        return cast(CreatedInvite, self.request("POST", "/invites", body))

    # Apps

    def apps(self) -> list[App]:
        return cast(list[App], self.request("GET", "/apps"))

    def create_app(self, *, name: str | None = None, team: str | None = None) -> App:
        body = {"name": name} if name else {}
        if team:
            body["team"] = team
        return cast(App, self.request("POST", "/apps", body))

    def app(self, name: str) -> App:
        return cast(App, self.request("GET", f"/apps/{_segment(name)}"))

    def destroy_app(self, name: str, *, confirm: str) -> None:
        """The server checks `confirm` too, so a stale script cannot delete the wrong app."""
        self.request("DELETE", f"/apps/{_segment(name)}?confirm={quote(confirm, safe='')}")

    def config(self, app: str) -> dict[str, str]:
        return cast(dict[str, str], self.request("GET", f"/apps/{_segment(app)}/config"))

    def update_config(self, app: str, changes: Mapping[str, str | None]) -> dict[str, str]:
        return cast(dict[str, str], self.request("PATCH", f"/apps/{_segment(app)}/config", dict(changes)))

    def releases(self, app: str) -> list[Release]:
        return cast(list[Release], self.request("GET", f"/apps/{_segment(app)}/releases"))


def _segment(value: str) -> str:
    """Keep user input inside one path segment (`../account` must not reach another route)."""
    return quote(value, safe="")


def error_from_response(response: httpx.Response) -> ApiError:
    """Build the user-facing error from an API error body, whatever shape it arrived in."""
    error_id, message = _error_body(response)
    if response.status_code == 429:
        retry_after = response.headers.get("Retry-After")
        if retry_after:
            message = f"{message.rstrip('.')}. Retry after {retry_after} seconds."
    return ApiError(response.status_code, error_id, message)


def _error_body(response: httpx.Response) -> tuple[str, str]:
    fallback = f"The API answered {response.status_code} {response.reason_phrase}."
    try:
        body = response.json()
    except ValueError:
        return "error", fallback
    if not isinstance(body, dict):
        return "error", fallback
    message = body.get("message") or body.get("detail") or fallback
    if not isinstance(message, str):
        message = fallback
    return str(body.get("id") or "error"), message
