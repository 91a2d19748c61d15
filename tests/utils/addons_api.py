"""Helpers for add-on tests: a user's API client, and waiting for an add-on to be provisioned."""

from __future__ import annotations

import secrets
import time
from typing import Any

import httpx

from tests.conftest import LiveServer


def user_client(server: LiveServer) -> httpx.Client:
    _email, token = server.signup()
    return httpx.Client(base_url=server.url, headers={"Authorization": f"Bearer {token}"}, timeout=60)


def new_app(client: httpx.Client) -> str:
    name = f"addons-{secrets.token_hex(4)}"
    client.post("/api/apps", json={"name": name}).raise_for_status()
    return name


def wait_available(client: httpx.Client, app: str, addon: str, timeout: float = 300.0) -> dict[str, Any]:
    """Poll as the CLI does until the add-on leaves `provisioning`."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        details: dict[str, Any] = client.get(f"/api/apps/{app}/addons/{addon}").json()
        if details["status"] != "provisioning":
            return details
        time.sleep(0.2)
    raise AssertionError(f"{addon} still provisioning after {timeout} s")


def create_addon(client: httpx.Client, app: str, kind: str, **extra: str) -> dict[str, Any]:
    answer = client.post(f"/api/apps/{app}/addons", json={"kind": kind, **extra})
    assert answer.status_code == 202, answer.text
    details = wait_available(client, app, answer.json()["name"])
    assert details["status"] == "available", details
    return details


def config(client: httpx.Client, app: str) -> dict[str, str]:
    answer: dict[str, str] = client.get(f"/api/apps/{app}/config").json()
    return answer
