"""Build API clients from the user's settings; the one place that decides URL and token."""

from __future__ import annotations

from pathlib import Path

import httpx

from wharf.cli import settings
from wharf.cli.client import WharfClient

# Tests put an httpx.MockTransport here to answer without a server.
transport: httpx.BaseTransport | None = None


def client_for(url: str, token: str | None = None, ca: Path | None = None) -> WharfClient:
    return WharfClient(url, token=token, transport=transport, verify=settings.tls_context(ca))


def authenticated_client() -> WharfClient:
    """A client for the configured API with the stored token; NotLoggedInError when there is none."""
    url = settings.api_url()
    credentials = settings.require_credentials(url)
    return client_for(url, credentials.token)
