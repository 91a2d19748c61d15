"""Test runs through the API: listing, one run with its output, reruns, and who may see them."""

from __future__ import annotations

import secrets

from sqlalchemy import select

from tests.conftest import LiveServer
from tests.utils.api import new_user_client
from wharf.platform.db import session_scope
from wharf.platform.models import App, TestRun


def record_failed_run(server: LiveServer, app_name: str) -> None:
    with session_scope(server.database_url) as session:
        app = session.scalars(select(App).where(App.name == app_name)).one()
        session.add(
            TestRun(
                app_id=app.id,
                number=1,
                commit="a" * 40,
                status="failed",
                exit_code=3,
                message="Tests failed with exit code 3",
                output="about to fail",
                image=f"wharf/{app_name}:ci1",
                environment={"test": "exit 3", "setup": None, "env": [], "addons": []},
            )
        )


def test_runs_are_listed_shown_with_output_and_rerun_once_at_a_time(live_server: LiveServer) -> None:
    _, client = new_user_client(live_server)
    name = f"ci-{secrets.token_hex(3)}"
    client.post("/api/apps", json={"name": name}).raise_for_status()
    assert client.get(f"/api/apps/{name}/test-runs").json() == []
    missing = client.get(f"/api/apps/{name}/test-runs/1")
    assert missing.status_code == 404 and "wharf ci" in missing.json()["message"]

    record_failed_run(live_server, name)
    listed = client.get(f"/api/apps/{name}/test-runs").json()
    assert [(r["number"], r["status"], r["exit_code"]) for r in listed] == [(1, "failed", 3)]
    assert "output" not in listed[0]
    assert client.get(f"/api/apps/{name}/test-runs/1").json()["output"] == "about to fail"

    rerun = client.post(f"/api/apps/{name}/test-runs/1/rerun")
    assert rerun.status_code == 202, rerun.text
    assert (rerun.json()["number"], rerun.json()["status"], rerun.json()["commit"]) == (
        2,
        "pending",
        "a" * 40,
    )
    again = client.post(f"/api/apps/{name}/test-runs/1/rerun")
    assert again.status_code == 409 and "has not finished" in again.json()["message"]
    client.delete(f"/api/apps/{name}", params={"confirm": name}).raise_for_status()


def test_another_users_test_runs_are_out_of_reach(live_server: LiveServer) -> None:
    _, owner = new_user_client(live_server)
    _, stranger = new_user_client(live_server)
    name = f"ci-{secrets.token_hex(3)}"
    owner.post("/api/apps", json={"name": name}).raise_for_status()
    record_failed_run(live_server, name)
    for method, path in (("GET", ""), ("GET", "/1"), ("POST", "/1/rerun")):
        answer = stranger.request(method, f"/api/apps/{name}/test-runs{path}")
        assert answer.status_code in (403, 404), (method, path, answer.status_code)
    assert owner.get(f"/api/apps/{name}/test-runs").json()[0]["status"] == "failed"
    owner.delete(f"/api/apps/{name}", params={"confirm": name}).raise_for_status()


def test_releases_carry_a_test_status(live_server: LiveServer) -> None:
    _, client = new_user_client(live_server)
    name = f"ci-{secrets.token_hex(3)}"
    client.post("/api/apps", json={"name": name}).raise_for_status()
    client.patch(f"/api/apps/{name}/config", json={"A": "1"}).raise_for_status()
    releases = client.get(f"/api/apps/{name}/releases").json()
    assert releases and all(r["test_status"] is None for r in releases)
    client.delete(f"/api/apps/{name}", params={"confirm": name}).raise_for_status()
