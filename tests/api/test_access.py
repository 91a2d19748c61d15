"""A user sees and changes only their own apps: another user's app answers 404 on every route."""

from __future__ import annotations

import secrets

import httpx

from tests.conftest import LiveServer
from tests.utils.api import new_user_client


def test_other_users_app_is_not_found_on_every_route(live_server: LiveServer) -> None:
    _, alice = new_user_client(live_server)
    _, bob = new_user_client(live_server)
    name = f"private-{secrets.token_hex(3)}"
    assert alice.post("/api/apps", json={"name": name}).status_code == 201
    alice.patch(f"/api/apps/{name}/config", json={"SECRET": "alice-only"})

    spec = httpx.get(f"{live_server.url}/api/openapi.json").json()
    app_routes = [(m, p) for p, methods in spec["paths"].items() if "{app_name}" in p for m in methods]
    assert len(app_routes) >= 8
    bodies = {"patch": {"SECRET": "bob-was-here"}, "post": {}, "put": {}}
    for method, path in app_routes:
        url = path.replace("{app_name}", name).replace("{version}", "1")
        answer = bob.request(method.upper(), url, json=bodies.get(method), params={"confirm": name})
        assert answer.status_code == 404, f"{method.upper()} {path} answered {answer.status_code}"
        assert "alice-only" not in answer.text
    assert name not in [a["name"] for a in bob.get("/api/apps").json()]
    assert alice.get(f"/api/apps/{name}/config").json() == {"SECRET": "alice-only"}
    assert alice.get(f"/api/apps/{name}").status_code == 200
