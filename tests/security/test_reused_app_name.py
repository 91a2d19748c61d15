"""Destroying an app leaves nothing for the next owner of its name: no log, activity, cache or reuse."""

from __future__ import annotations

import json
import secrets

import redis

from tests.conftest import LiveServer
from tests.utils.api import client_for
from wharf.platform.logs.stream import LogWriter


def sse_lines(body: str) -> list[str]:
    return [json.loads(line[5:])["line"] for line in body.splitlines() if line.startswith("data:")]


def test_a_new_owner_of_a_destroyed_apps_name_sees_none_of_its_data(live_server: LiveServer) -> None:
    _, alice_token = live_server.signup()
    alice = client_for(live_server, alice_token)
    name = f"reused-{secrets.token_hex(4)}"
    alice.post("/api/apps", json={"name": name}).raise_for_status()
    alice.patch(f"/api/apps/{name}/config", json={"SECRET_PLAN": "world domination"}).raise_for_status()
    # What a push and running dynos leave: log lines, a build cache and a dependency reuse record.
    LogWriter(redis.Redis.from_url(live_server.redis_url)).write(
        name, source="app", dyno="web.1", line="alice's private log line"
    )
    cache = live_server.data_dir / "cache" / name
    cache.mkdir(parents=True)
    (cache / "pip-wheel.whl").write_text("alice's cached wheel")
    reuse = live_server.data_dir / "build-reuse" / f"{name}.json"
    reuse.parent.mkdir(parents=True, exist_ok=True)
    reuse.write_text(json.dumps({"key": "k", "image": f"wharf/{name}:dependencies"}))
    assert "alice's private log line" in sse_lines(alice.get(f"/api/apps/{name}/logs").text)

    alice.request("DELETE", f"/api/apps/{name}", params={"confirm": name}).raise_for_status()
    _, bob_token = live_server.signup()
    bob = client_for(live_server, bob_token)
    bob.post("/api/apps", json={"name": name}).raise_for_status()

    lines = sse_lines(bob.get(f"/api/apps/{name}/logs", params={"num": 1000}).text)
    assert not [line for line in lines if "alice" in line or "SECRET_PLAN" in line], lines
    activity = bob.get(f"/api/apps/{name}/activity").json()
    assert activity and all("alice" not in json.dumps(event) for event in activity), activity
    assert not cache.exists()
    assert not reuse.exists()
