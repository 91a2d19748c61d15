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


# The least role each app-scoped route needs: a route missing here fails the test below, so every new
# route is classified. The owner is an admin; a stranger holds no role and sees 404 everywhere.
ROUTE_ROLES: dict[tuple[str, str], str] = {
    ("DELETE", "/api/apps/{app_name}/pipeline"): "member",
    ("POST", "/api/apps/{app_name}/pipeline/promote"): "member",
    ("GET", "/api/apps/{app_name}/alerts"): "viewer",
    ("POST", "/api/apps/{app_name}/alerts"): "member",
    ("DELETE", "/api/apps/{app_name}/alerts/{alert_id}"): "member",
    ("GET", "/api/apps/{app_name}/autoscale"): "viewer",
    ("GET", "/api/apps/{app_name}/autoscale/log"): "viewer",
    ("PUT", "/api/apps/{app_name}/autoscale/{process_type}"): "member",
    ("DELETE", "/api/apps/{app_name}/autoscale/{process_type}"): "member",
    ("GET", "/api/apps/{app_name}/certs/auto"): "viewer",
    ("POST", "/api/apps/{app_name}/acm"): "admin",
    ("DELETE", "/api/apps/{app_name}/acm"): "admin",
    ("GET", "/api/apps/{app_name}/metrics"): "viewer",
    ("GET", "/api/apps/{app_name}/metrics/events"): "viewer",
    ("GET", "/api/apps/{app_name}/test-runs"): "viewer",
    ("GET", "/api/apps/{app_name}/test-runs/{number}"): "viewer",
    ("POST", "/api/apps/{app_name}/test-runs/{number}/rerun"): "member",
    ("GET", "/api/apps/{app_name}"): "viewer",
    ("DELETE", "/api/apps/{app_name}"): "admin",
    ("PATCH", "/api/apps/{app_name}"): "member",
    ("GET", "/api/apps/{app_name}/activity"): "viewer",
    ("GET", "/api/apps/{app_name}/domains"): "viewer",
    ("POST", "/api/apps/{app_name}/domains"): "admin",
    ("DELETE", "/api/apps/{app_name}/domains/{hostname}"): "admin",
    ("GET", "/api/apps/{app_name}/certs"): "viewer",
    ("POST", "/api/apps/{app_name}/certs"): "admin",
    ("DELETE", "/api/apps/{app_name}/certs/{certificate_id}"): "admin",
    ("GET", "/api/apps/{app_name}/config"): "member",
    ("PATCH", "/api/apps/{app_name}/config"): "member",
    ("GET", "/api/apps/{app_name}/releases"): "viewer",
    ("GET", "/api/apps/{app_name}/releases/{version}"): "viewer",
    ("POST", "/api/apps/{app_name}/releases/rollback"): "member",
    ("GET", "/api/apps/{app_name}/formation"): "viewer",
    ("PATCH", "/api/apps/{app_name}/formation"): "member",
    ("GET", "/api/apps/{app_name}/builds"): "viewer",
    ("GET", "/api/apps/{app_name}/builds/latest"): "viewer",
    ("GET", "/api/apps/{app_name}/builds/{build_id}"): "viewer",
    ("GET", "/api/apps/{app_name}/logs"): "viewer",
    ("GET", "/api/apps/{app_name}/drains"): "viewer",
    ("POST", "/api/apps/{app_name}/drains"): "admin",
    ("DELETE", "/api/apps/{app_name}/drains"): "admin",
    ("GET", "/api/apps/{app_name}/dynos"): "viewer",
    ("POST", "/api/apps/{app_name}/dynos"): "member",
    ("POST", "/api/apps/{app_name}/dynos/restart"): "member",
    ("POST", "/api/apps/{app_name}/dynos/{dyno_name}/stop"): "member",
    ("GET", "/api/apps/{app_name}/addons"): "viewer",
    ("POST", "/api/apps/{app_name}/addons"): "admin",
    ("GET", "/api/apps/{app_name}/addons/{addon_name}"): "viewer",
    ("DELETE", "/api/apps/{app_name}/addons/{addon_name}"): "admin",
    ("POST", "/api/apps/{app_name}/addons/{addon_name}/console"): "member",
    ("GET", "/api/apps/{app_name}/addons/{addon_name}/backups"): "viewer",
    ("POST", "/api/apps/{app_name}/addons/{addon_name}/backups"): "member",
    ("GET", "/api/apps/{app_name}/addons/{addon_name}/backups/{backup_id}"): "viewer",
    ("GET", "/api/apps/{app_name}/addons/{addon_name}/backups/{backup_id}/download"): "member",
    ("GET", "/api/apps/{app_name}/addons/{addon_name}/backups/{backup_id}/restore"): "admin",
    ("POST", "/api/apps/{app_name}/addons/{addon_name}/backups/{backup_id}/restore"): "admin",
    ("PUT", "/api/apps/{app_name}/addons/{addon_name}/backup-schedule"): "admin",
    ("GET", "/api/apps/{app_name}/collaborators"): "viewer",
    ("POST", "/api/apps/{app_name}/collaborators"): "admin",
    ("PATCH", "/api/apps/{app_name}/collaborators/{email}"): "admin",
    ("DELETE", "/api/apps/{app_name}/collaborators/{email}"): "admin",
    ("POST", "/api/apps/{app_name}/transfer"): "admin",
    ("GET", "/git/{app_name}.git/info/refs"): "viewer",
    ("POST", "/git/{app_name}.git/git-upload-pack"): "viewer",
    ("POST", "/git/{app_name}.git/git-receive-pack"): "member",
}
RANK = {"stranger": -1, "viewer": 0, "member": 1, "admin": 2, "owner": 2}
PATH_VALUES = {
    "{version}": "1",
    "{build_id}": "1",
    "{certificate_id}": "1",
    "{hostname}": "nope.example.com",
    "{dyno_name}": "web.1",
    "{addon_name}": "nope",
    "{backup_id}": "nope",
    "{email}": "nobody@example.com",
}


def _app_routes(server: LiveServer) -> list[tuple[str, str]]:
    spec = httpx.get(f"{server.url}/api/openapi.json").json()
    return sorted(
        (m.upper(), p) for p, methods in spec["paths"].items() if "{app_name}" in p for m in methods
    )


def _call(client: httpx.Client, method: str, path: str, app: str) -> httpx.Response:
    url = path.replace("{app_name}", app)
    for placeholder, value in PATH_VALUES.items():
        url = url.replace(placeholder, value)
    # A wrong confirmation: an admin reaches the route and is told to confirm, nothing is destroyed.
    return client.request(method, url, json={}, params={"confirm": "not-the-name"})


def _error_id(answer: httpx.Response) -> str | None:
    if answer.status_code < 400 or answer.headers.get("content-type") != "application/json":
        return None
    return str(answer.json().get("id"))


def test_every_app_route_allows_and_refuses_by_role(live_server: LiveServer) -> None:
    routes = _app_routes(live_server)
    unclassified = [route for route in routes if route not in ROUTE_ROLES]
    assert not unclassified, f"classify these routes in ROUTE_ROLES: {unclassified}"
    assert not [route for route in ROUTE_ROLES if route not in routes], "ROUTE_ROLES names a gone route"

    _, owner = new_user_client(live_server)
    name = f"roles-{secrets.token_hex(3)}"
    assert owner.post("/api/apps", json={"name": name}).status_code == 201
    owner.patch(f"/api/apps/{name}/config", json={"SECRET": "owner-only"})
    clients = {"owner": owner}
    for role in ("admin", "member", "viewer"):
        email, clients[role] = new_user_client(live_server)
        added = owner.post(f"/api/apps/{name}/collaborators", json={"email": email, "role": role})
        assert added.status_code == 201, added.text
    _, clients["stranger"] = new_user_client(live_server)

    for (method, path), needed in ROUTE_ROLES.items():
        for who, client in clients.items():
            answer = _call(client, method, path, name)
            error = _error_id(answer)
            where = f"{method} {path} as {who} answered {answer.status_code} {answer.text[:200]}"
            if who == "stranger":
                assert answer.status_code == 404 and error == "app_not_found", where
            elif RANK[who] < RANK[needed]:
                assert answer.status_code == 403 and error == "role_required", where
                assert needed in answer.json()["message"], where
            else:
                assert (answer.status_code, error) not in ((403, "role_required"), (404, "app_not_found")), (
                    where
                )
            assert "owner-only" not in answer.text or RANK[who] >= RANK["member"], where
    assert owner.get(f"/api/apps/{name}").status_code == 200


def test_apps_list_shows_shared_and_team_apps_with_the_callers_role(live_server: LiveServer) -> None:
    _, owner = new_user_client(live_server)
    viewer_email, viewer = new_user_client(live_server)
    shared = f"shared-{secrets.token_hex(3)}"
    team = f"team-{secrets.token_hex(3)}"
    owner.post("/api/apps", json={"name": shared})
    owner.post(f"/api/apps/{shared}/collaborators", json={"email": viewer_email, "role": "viewer"})
    assert owner.post("/api/teams", json={"name": team}).status_code == 201
    assert (
        owner.put(f"/api/teams/{team}/members", json={"email": viewer_email, "role": "member"}).status_code
        == 200
    )
    team_app = f"teamapp-{secrets.token_hex(3)}"
    assert owner.post("/api/apps", json={"name": team_app, "team": team}).status_code == 201

    listed = {a["name"]: (a["role"], a["team"]) for a in viewer.get("/api/apps").json()}
    assert listed == {shared: ("viewer", None), team_app: ("member", team)}
    # A team member deploys-level: changes config; a viewer collaborator cannot.
    assert viewer.patch(f"/api/apps/{team_app}/config", json={"K": "v"}).status_code == 200
    refused = viewer.patch(f"/api/apps/{shared}/config", json={"K": "v"})
    assert refused.status_code == 403 and "member" in refused.json()["message"]

    # Removed from the team, the app is gone from the list and answers 404.
    viewer_team = viewer.get("/api/teams").json()
    assert [(t["name"], t["role"]) for t in viewer_team] == [(team, "member")]
    assert owner.delete(f"/api/teams/{team}/members/{viewer_email}").status_code == 204
    assert viewer.get(f"/api/apps/{team_app}").status_code == 404
    assert [a["name"] for a in viewer.get("/api/apps").json()] == [shared]


def test_unknown_email_and_bad_role_are_clear_errors(live_server: LiveServer) -> None:
    _, owner = new_user_client(live_server)
    name = f"access-{secrets.token_hex(3)}"
    owner.post("/api/apps", json={"name": name})
    unknown = owner.post(f"/api/apps/{name}/collaborators", json={"email": "nobody-here@example.com"})
    assert unknown.status_code == 404 and "sign up first" in unknown.json()["message"]
    bad_role = owner.post(f"/api/apps/{name}/collaborators", json={"email": "x@example.com", "role": "root"})
    assert bad_role.status_code in (404, 422)
    email, member = new_user_client(live_server)
    assert (
        owner.post(f"/api/apps/{name}/collaborators", json={"email": email, "role": "root"}).status_code
        == 422
    )
    assert owner.post(f"/api/apps/{name}/collaborators", json={"email": email}).json()["role"] == "member"
    assert owner.post(f"/api/apps/{name}/collaborators", json={"email": email}).status_code == 409
    assert member.post(f"/api/apps/{name}/collaborators", json={"email": email}).status_code == 403


def test_transfer_to_a_user_and_to_a_team(live_server: LiveServer) -> None:
    owner_email, owner = new_user_client(live_server)
    new_email, new_owner = new_user_client(live_server)
    name = f"moving-{secrets.token_hex(3)}"
    owner.post("/api/apps", json={"name": name})
    assert new_owner.post(f"/api/apps/{name}/transfer", json={"to": new_email}).status_code == 404
    moved = owner.post(f"/api/apps/{name}/transfer", json={"to": new_email})
    assert moved.status_code == 200, moved.text
    assert new_owner.get(f"/api/apps/{name}").json()["owner"] == new_email
    access = {
        a["email"]: (a["role"], a["source"]) for a in new_owner.get(f"/api/apps/{name}/collaborators").json()
    }
    assert access == {new_email: ("admin", "owner"), owner_email: ("member", "collaborator")}
    assert owner.delete(f"/api/apps/{name}", params={"confirm": name}).status_code == 403

    team = f"movers-{secrets.token_hex(3)}"
    new_owner.post("/api/teams", json={"name": team})
    assert new_owner.post(f"/api/apps/{name}/transfer", json={"to": team}).status_code == 200
    assert new_owner.get(f"/api/apps/{name}").json()["team"] == team
    assert owner.post(f"/api/apps/{name}/transfer", json={"to": "no-such-team"}).status_code == 403
    # Destroyed with its collaborators and team: a new app of the name starts with no one else on it.
    assert new_owner.delete(f"/api/apps/{name}", params={"confirm": name}).status_code == 204
    assert owner.post("/api/apps", json={"name": name}).status_code == 201
    assert [a["source"] for a in owner.get(f"/api/apps/{name}/collaborators").json()] == ["owner"]
    assert new_owner.get(f"/api/apps/{name}").status_code == 404
