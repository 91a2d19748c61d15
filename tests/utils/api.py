"""Small helpers for API tests: an authenticated client for a fresh account."""

from __future__ import annotations

import httpx

from tests.conftest import LiveServer


def client_for(server: LiveServer, token: str) -> httpx.Client:
    return httpx.Client(base_url=server.url, headers={"Authorization": f"Bearer {token}"}, timeout=30)


def new_user_client(server: LiveServer) -> tuple[str, httpx.Client]:
    email, token = server.signup()
    return email, client_for(server, token)
