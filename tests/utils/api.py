"""Small helpers for API tests: an authenticated client for a fresh account."""

from __future__ import annotations

import httpx
from sqlalchemy import select

from tests.conftest import LiveServer
from wharf.platform.db import session_scope
from wharf.platform.models import App
from wharf.platform.records.releases import create_release
from wharf.platform.security.crypto import ConfigCipher


def client_for(server: LiveServer, token: str) -> httpx.Client:
    return httpx.Client(base_url=server.url, headers={"Authorization": f"Bearer {token}"}, timeout=30)


def new_user_client(server: LiveServer) -> tuple[str, httpx.Client]:
    email, token = server.signup()
    return email, client_for(server, token)


def release_web(server: LiveServer, name: str, processes: dict[str, str] | None = None) -> int:
    """Give the app a deployed release with a `web` process type (or `processes`), as a build would;
    returns the app's id."""
    with session_scope(server.database_url) as session:
        app = session.scalars(select(App).where(App.name == name)).one()
        create_release(
            session=session,
            cipher=ConfigCipher(server.env["WHARF_SECRET_KEY"]),
            app=app,
            actor=None,
            description="Deploy",
            config={},
            image="wharf/test:v1",
            process_types=processes or {"web": "serve"},
        )
        return app.id
