"""Concurrent changes to one app's config each keep what the others wrote (SQLite and PostgreSQL)."""

from __future__ import annotations

import secrets
import threading
from concurrent.futures import ThreadPoolExecutor

import httpx

from tests.conftest import LiveServer
from tests.utils.addons_api import create_addon, wait_available
from tests.utils.api import new_user_client


def _set_at_once(client: httpx.Client, app: str, keys: list[str]) -> list[int]:
    start = threading.Barrier(len(keys))

    def set_one(key: str) -> int:
        start.wait()
        return client.patch(f"/api/apps/{app}/config", json={key: f"value-of-{key}"}).status_code

    with ThreadPoolExecutor(max_workers=len(keys)) as pool:
        return list(pool.map(set_one, keys))


def test_twenty_concurrent_config_sets_of_distinct_keys_are_all_kept(live_server: LiveServer) -> None:
    _, client = new_user_client(live_server)
    app = f"race-{secrets.token_hex(3)}"
    client.post("/api/apps", json={"name": app}).raise_for_status()
    try:
        keys = [f"KEY_{i:02d}" for i in range(20)]
        assert _set_at_once(client, app, keys) == [200] * 20
        config = client.get(f"/api/apps/{app}/config").json()
        assert {k: config.get(k) for k in keys} == {k: f"value-of-{k}" for k in keys}
        versions = [r["version"] for r in client.get(f"/api/apps/{app}/releases").json()]
        assert len(versions) == len(set(versions)) == 21
    finally:
        client.delete(f"/api/apps/{app}", params={"confirm": app})


def test_an_addon_attach_racing_config_sets_keeps_both(live_server: LiveServer) -> None:
    _, client = new_user_client(live_server)
    app = f"race-{secrets.token_hex(3)}"
    client.post("/api/apps", json={"name": app}).raise_for_status()
    try:
        create_addon(client, app, "redis")
        started = client.post(f"/api/apps/{app}/addons", json={"kind": "postgres"})
        assert started.status_code == 202, started.text
        keys = [f"DURING_{i:02d}" for i in range(12)]
        assert _set_at_once(client, app, keys) == [200] * 12
        assert wait_available(client, app, started.json()["name"])["status"] == "available"
        config = client.get(f"/api/apps/{app}/config").json()
        assert "DATABASE_URL" in config and "REDIS_URL" in config
        assert all(config.get(k) == f"value-of-{k}" for k in keys)
    finally:
        client.delete(f"/api/apps/{app}", params={"confirm": app})
