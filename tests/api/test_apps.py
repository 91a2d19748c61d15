"""Apps, config vars, releases and formation, as their owner sees them."""

from __future__ import annotations

import re
import secrets

from sqlalchemy import select

from tests.conftest import LiveServer
from tests.utils.api import new_user_client
from wharf.platform.db import session_scope
from wharf.platform.models import Release


def unique_name(prefix: str = "app") -> str:
    return f"{prefix}-{secrets.token_hex(3)}"


def test_create_named_and_generated_apps(live_server: LiveServer) -> None:
    email, client = new_user_client(live_server)
    name = unique_name()
    created = client.post("/api/apps", json={"name": name})
    assert created.status_code == 201, created.text
    body = created.json()
    assert body["owner"] == email
    assert body["git_url"] == f"{live_server.url}/git/{name}.git"
    assert body["web_url"].startswith(f"http://{name}.localhost")
    generated = client.post("/api/apps", json={})
    assert generated.status_code == 201
    assert re.fullmatch(r"[a-z]+-[a-z]+-\d{4}", generated.json()["name"])
    names = [a["name"] for a in client.get("/api/apps").json()]
    assert name in names and generated.json()["name"] in names


def test_app_name_rules(live_server: LiveServer) -> None:
    _, client = new_user_client(live_server)
    for bad in ("Upper", "1starts-with-digit", "has_underscore", "a" * 31, "trailing-", "sp ace", ""):
        answer = client.post("/api/apps", json={"name": bad})
        assert answer.status_code == 400, bad
        assert "lowercase letters" in answer.json()["message"]
    assert client.post("/api/apps", json={"name": "a" * 30}).status_code in (201, 409)


def test_taken_name_conflicts(live_server: LiveServer) -> None:
    _, alice = new_user_client(live_server)
    _, bob = new_user_client(live_server)
    name = unique_name()
    assert alice.post("/api/apps", json={"name": name}).status_code == 201
    taken = bob.post("/api/apps", json={"name": name})
    assert taken.status_code == 409
    assert "already taken" in taken.json()["message"]


def test_config_changes_make_releases_and_are_encrypted(live_server: LiveServer) -> None:
    _, client = new_user_client(live_server)
    name = unique_name()
    client.post("/api/apps", json={"name": name})
    assert [r["version"] for r in client.get(f"/api/apps/{name}/releases").json()] == [1]

    secret_value = f"s3cr3t-{secrets.token_hex(8)}"
    answer = client.patch(f"/api/apps/{name}/config", json={"API_KEY": secret_value, "MODE": "prod"})
    assert answer.status_code == 200
    assert answer.json() == {"API_KEY": secret_value, "MODE": "prod"}
    assert client.patch(f"/api/apps/{name}/config", json={"MODE": None}).json() == {"API_KEY": secret_value}
    assert client.get(f"/api/apps/{name}/config").json() == {"API_KEY": secret_value}

    releases = client.get(f"/api/apps/{name}/releases").json()
    assert [r["version"] for r in releases] == [3, 2, 1]
    assert releases[0]["description"] == "Remove MODE config vars"
    assert releases[1]["description"] == "Set API_KEY, MODE config vars"
    assert client.get(f"/api/apps/{name}/releases/2").json()["version"] == 2
    assert client.get(f"/api/apps/{name}/releases/9").status_code == 404

    with session_scope(live_server.database_url) as session:
        blobs = list(session.scalars(select(Release.config_ciphertext)))
    assert blobs and all(secret_value.encode() not in blob for blob in blobs)


def test_bad_config_is_refused_and_changes_nothing(live_server: LiveServer) -> None:
    _, client = new_user_client(live_server)
    name = unique_name()
    client.post("/api/apps", json={"name": name})
    for bad, why in (
        ({"1BAD": "x"}, "not a valid config var name"),
        ({"PORT": "80"}, "set by Wharf"),
        ({"OK": "nul\x00byte"}, "NUL"),
        ({}, "No config vars given"),
    ):
        answer = client.patch(f"/api/apps/{name}/config", json=bad)
        assert answer.status_code == 400, bad
        assert why in answer.json()["message"]
    assert [r["version"] for r in client.get(f"/api/apps/{name}/releases").json()] == [1]


def test_concurrent_config_changes_get_distinct_versions(live_server: LiveServer) -> None:
    from concurrent.futures import ThreadPoolExecutor

    _, client = new_user_client(live_server)
    name = unique_name()
    client.post("/api/apps", json={"name": name})

    def change(i: int) -> int:
        return client.patch(f"/api/apps/{name}/config", json={f"K{i}": "v"}).status_code

    with ThreadPoolExecutor(max_workers=8) as pool:
        assert set(pool.map(change, range(8))) == {200}
    versions = [r["version"] for r in client.get(f"/api/apps/{name}/releases").json()]
    assert sorted(versions) == list(range(1, 10))


def test_formation_needs_a_known_process_type(live_server: LiveServer) -> None:
    _, client = new_user_client(live_server)
    name = unique_name()
    client.post("/api/apps", json={"name": name})
    answer = client.patch(f"/api/apps/{name}/formation", json={"updates": [{"type": "web", "quantity": 2}]})
    assert answer.status_code == 400
    assert "Couldn't find that process type (web)" in answer.json()["message"]
    assert client.get(f"/api/apps/{name}/formation").json() == []


def test_destroy_needs_confirmation(live_server: LiveServer) -> None:
    _, client = new_user_client(live_server)
    name = unique_name()
    client.post("/api/apps", json={"name": name})
    wrong = client.delete(f"/api/apps/{name}", params={"confirm": "other"})
    assert wrong.status_code == 400
    assert "Nothing was destroyed" in wrong.json()["message"]
    assert client.get(f"/api/apps/{name}").status_code == 200
    assert client.delete(f"/api/apps/{name}", params={"confirm": name}).status_code == 204
    assert client.get(f"/api/apps/{name}").status_code == 404


def test_activity_records_who_did_what(live_server: LiveServer) -> None:
    email, client = new_user_client(live_server)
    name = unique_name()
    client.post("/api/apps", json={"name": name})
    client.patch(f"/api/apps/{name}/config", json={"A": "1"})
    messages = [e["message"] for e in client.get(f"/api/apps/{name}/activity").json()]
    assert f"Release v2 created by {email}: Set A config vars" in messages
    assert f"Created by {email}" in messages
