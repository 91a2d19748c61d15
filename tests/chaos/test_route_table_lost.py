"""The route table deleted from Redis (the published table and both halves it is made from) under load
through the router: no request to another app fails, not even when a change to one app is published
from what is left; the API and the scheduler write their halves whole again, the change is served
after that, and the table names every app again."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
import redis

from tests.utils.chaos import Load, private_redis, served_app
from tests.utils.e2e import Developer
from tests.utils.wharfd_up import WharfdUp, push_new_app, wait_until_served

__all__ = ["served_app"]

pytestmark = pytest.mark.e2e

# The published table, the API's half (hostnames, maintenance) and the scheduler's half (dynos).
ROUTE_KEYS = ("wharf:routes", "wharf:app-routes", "wharf:backends")


def routed_apps(client: redis.Redis[bytes]) -> tuple[set[str], bool]:
    """The apps of the published table with backends, and whether it is complete."""
    table = json.loads(client.get("wharf:routes") or b"{}")
    apps = {route["app"] for route in table.get("apps", []) if route.get("backends")}
    return apps, bool(table.get("complete"))


def test_a_route_table_deleted_from_redis_fails_no_request_and_is_written_whole_again(
    served_app: tuple[WharfdUp, Developer, str], tmp_path: Path
) -> None:
    server, developer, changed = served_app
    other = push_new_app(developer, "procfile_only", tmp_path)
    wait_until_served(server.wharf, other, 90)
    client = private_redis(server)
    assert routed_apps(client) == ({changed, other}, True)

    port = server.wharf.http_port
    with Load(url=f"http://127.0.0.1:{port}/", host=f"{other}.localhost") as load:
        time.sleep(2)
        client.delete(*ROUTE_KEYS)
        # Published at once from what Redis has left: the changed app's settings alone, no dynos.
        with developer.api as api:
            api.patch(f"/api/apps/{changed}", json={"maintenance": True}).raise_for_status()
        deadline = time.monotonic() + 60
        while server.wharf.app_get(changed).status_code != 503:
            assert time.monotonic() < deadline, "the change was never served"
            time.sleep(0.5)
        written_whole = routed_apps(client)
        time.sleep(3)
        load.until_answered()
    load.assert_none_failed(f"route table deleted, requests to {other}")
    assert written_whole == ({changed, other}, True), "the table served with the change names both apps"

    with developer.api as api:
        api.patch(f"/api/apps/{changed}", json={"maintenance": False}).raise_for_status()
    wait_until_served(server.wharf, changed, 60)
    assert server.wharf.app_get(other).status_code == 200
