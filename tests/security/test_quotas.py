"""Per-user and per-app quotas: past each one the API answers 403 naming the limit and what to do."""

from __future__ import annotations

import secrets

import httpx

from tests.conftest import LiveServer
from tests.utils.api import client_for
from wharf.platform.db import session_scope
from wharf.platform.models import App
from wharf.platform.records.releases import create_release
from wharf.platform.security.crypto import ConfigCipher


def new_user(server: LiveServer) -> httpx.Client:
    _, token = server.signup()
    return client_for(server, token)


def new_app(api: httpx.Client) -> str:
    name = f"q-{secrets.token_hex(4)}"
    api.post("/api/apps", json={"name": name}).raise_for_status()
    return name


def deployed(server: LiveServer, app: str, processes: dict[str, str]) -> None:
    """The app as a finished push leaves it: a current release with an image and these process types."""
    cipher = ConfigCipher(server.env["WHARF_SECRET_KEY"])
    with session_scope(server.database_url) as session:
        row = session.query(App).filter_by(name=app).one()
        release = create_release(
            session=session,
            cipher=cipher,
            app=row,
            actor=None,
            description="Deploy",
            config={},
            image="busybox:latest",
            process_types=processes,
        )
        row.current_release_version = release.version


def refused(answer: httpx.Response, setting: str) -> str:
    assert answer.status_code == 403, answer.text
    body = answer.json()
    assert setting in body["message"]
    return str(body["id"])


def test_apps_per_user(quota_server: LiveServer) -> None:
    api = new_user(quota_server)
    names = [new_app(api) for _ in range(3)]
    answer = api.post("/api/apps", json={"name": f"q-{secrets.token_hex(4)}"})
    assert refused(answer, "WHARF_MAX_APPS_PER_USER") == "app_quota_exceeded"
    assert "apps:destroy" in answer.json()["message"]
    assert len(api.get("/api/apps").json()) == 3
    # Someone else's apps do not count, and destroying one frees a place.
    new_app(new_user(quota_server))
    api.request("DELETE", f"/api/apps/{names[0]}", params={"confirm": names[0]}).raise_for_status()
    new_app(api)


def test_dynos_per_type_per_app_and_process_types(quota_server: LiveServer) -> None:
    api = new_user(quota_server)
    app = new_app(api)
    deployed(quota_server, app, {"web": "serve", "worker": "work", "clock": "tick"})
    scale = f"/api/apps/{app}/formation"
    answer = api.patch(scale, json={"updates": [{"type": "web", "quantity": 6}]})
    assert refused(answer, "WHARF_MAX_DYNOS_PER_TYPE") == "dyno_quota_exceeded"
    answer = api.patch(
        scale, json={"updates": [{"type": "web", "quantity": 4}, {"type": "worker", "quantity": 3}]}
    )
    assert refused(answer, "WHARF_MAX_DYNOS_PER_APP") == "dyno_quota_exceeded"
    answer = api.patch(
        scale,
        json={"updates": [{"type": t, "quantity": 1} for t in ("web", "worker", "clock")]},
    )
    assert refused(answer, "WHARF_MAX_PROCESS_TYPES_PER_APP") == "process_type_quota_exceeded"
    # Nothing of a refused change was kept.
    assert {f["type"]: f["quantity"] for f in api.get(scale).json()}.get("web", 0) == 0
    ok = api.patch(
        scale, json={"updates": [{"type": "web", "quantity": 5}, {"type": "worker", "quantity": 1}]}
    )
    assert ok.status_code == 200, ok.text


def test_addons_per_app(quota_server: LiveServer) -> None:
    api = new_user(quota_server)
    app = new_app(api)
    for kind in ("redis", "memcached"):
        assert api.post(f"/api/apps/{app}/addons", json={"kind": kind}).status_code == 202
    answer = api.post(f"/api/apps/{app}/addons", json={"kind": "redis"})
    assert refused(answer, "WHARF_MAX_ADDONS_PER_APP") == "addon_quota_exceeded"
    assert len(api.get(f"/api/apps/{app}/addons").json()) == 2


def test_detached_one_offs_per_app(quota_server: LiveServer) -> None:
    api = new_user(quota_server)
    app = new_app(api)
    deployed(quota_server, app, {"web": "serve"})
    for _ in range(2):
        started = api.post(f"/api/apps/{app}/dynos", json={"command": "sleep 600"})
        assert started.status_code == 201, started.text
    answer = api.post(f"/api/apps/{app}/dynos", json={"command": "sleep 600"})
    assert refused(answer, "WHARF_MAX_DETACHED_DYNOS_PER_APP") == "oneoff_quota_exceeded"
