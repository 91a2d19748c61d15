"""A browser-like HTTP client for the dashboard: cookies, CSRF tokens read from the page, no JavaScript."""

from __future__ import annotations

import re
import secrets
from typing import Any

import httpx

from tests.conftest import LiveServer

PASSWORD = "correct horse battery"
CSRF_INPUT = re.compile(r'name="csrf_token" value="([0-9a-f]+)"')


def csrf_from(html: str) -> str:
    found = CSRF_INPUT.search(html)
    assert found, "the page has no form with a CSRF token"
    return found.group(1)


class DashboardClient:
    def __init__(self, server: LiveServer) -> None:
        self.server = server
        self.http = httpx.Client(base_url=server.url, timeout=30, follow_redirects=False)

    def page(self, path: str) -> httpx.Response:
        return self.http.get(path)

    def token_for(self, path: str) -> str:
        answer = self.page(path)
        assert answer.status_code == 200, answer.text
        return csrf_from(answer.text)

    def post(self, path: str, data: dict[str, Any], *, token_from: str | None = None) -> httpx.Response:
        """POST a form with the CSRF token a page of this session carries (as a browser would)."""
        token = self.token_for(token_from or "/apps")
        return self.http.post(path, data={**data, "csrf_token": token})

    def signup(self, email: str | None = None) -> str:
        email = email or f"dash-{secrets.token_hex(4)}@example.com"
        answer = self.post(
            "/signup",
            {"invite": self.server.make_invite(), "email": email, "password": PASSWORD},
            token_from="/signup",
        )
        assert answer.status_code == 303, answer.text
        return email

    def create_app(self, name: str | None = None) -> str:
        name = name or f"dash-{secrets.token_hex(3)}"
        answer = self.post("/apps", {"name": name})
        assert answer.status_code == 303, answer.text
        assert answer.headers["location"] == f"/apps/{name}"
        return name
