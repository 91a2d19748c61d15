"""The dashboard without a browser: CSRF refusal, session cookie flags, and another user's app is 404."""

from __future__ import annotations

import secrets

import httpx

from tests.conftest import LiveServer
from tests.utils.dashboard import PASSWORD, DashboardClient, csrf_from
from wharf.platform.web.dashboard.routes import apps as app_routes
from wharf.platform.web.dashboard.routes import changes as change_routes


def test_pages_need_a_session_and_send_you_to_login(live_server: LiveServer) -> None:
    client = DashboardClient(live_server)
    answer = client.page("/apps")
    assert answer.status_code == 303
    assert answer.headers["location"] == "/login"
    assert client.page("/apps/some-app").headers["location"] == "/login?next=/apps/some-app"


def test_a_post_without_the_csrf_token_is_refused(live_server: LiveServer) -> None:
    client = DashboardClient(live_server)
    client.signup()
    before = client.page("/apps").text

    missing = client.http.post("/apps", data={"name": f"csrf-{secrets.token_hex(3)}"})
    forged = client.http.post("/apps", data={"name": f"csrf-{secrets.token_hex(3)}", "csrf_token": "0" * 64})
    for answer in (missing, forged):
        assert answer.status_code == 403
        assert "did not come from this dashboard" in answer.text
    assert client.page("/apps").text.count("/apps/csrf-") == before.count("/apps/csrf-") == 0


def test_another_sessions_csrf_token_is_refused(live_server: LiveServer) -> None:
    alice, mallory = DashboardClient(live_server), DashboardClient(live_server)
    alice.signup()
    mallory.signup()
    mallorys_token = mallory.token_for("/apps")
    answer = alice.http.post("/apps", data={"name": "stolen-token", "csrf_token": mallorys_token})
    assert answer.status_code == 403


def test_login_without_csrf_token_is_refused(live_server: LiveServer) -> None:
    email, _ = live_server.signup()
    answer = httpx.post(f"{live_server.url}/login", data={"email": email, "password": PASSWORD})
    assert answer.status_code == 403
    assert "wharf_session" not in answer.headers.get("set-cookie", "")


def _session_cookie(answer: httpx.Response) -> str:
    cookies = [c for c in answer.headers.get_list("set-cookie") if c.startswith("wharf_session=")]
    assert len(cookies) == 1, answer.headers
    return cookies[0].lower()


def _login(live_server: LiveServer, headers: dict[str, str]) -> httpx.Response:
    email, _ = live_server.signup()
    client = DashboardClient(live_server)
    token = client.token_for("/login")
    return client.http.post(
        "/login", data={"email": email, "password": PASSWORD, "csrf_token": token}, headers=headers
    )


def test_session_cookie_is_httponly_and_samesite_lax(live_server: LiveServer) -> None:
    answer = _login(live_server, {})
    assert answer.status_code == 303
    cookie = _session_cookie(answer)
    assert "httponly" in cookie
    assert "samesite=lax" in cookie
    assert "secure" not in cookie  # plain HTTP: a Secure cookie would never come back


def test_session_cookie_is_secure_under_tls(live_server: LiveServer) -> None:
    answer = _login(live_server, {"X-Forwarded-Proto": "https"})
    cookie = _session_cookie(answer)
    assert "secure" in cookie
    assert "httponly" in cookie


def test_logout_revokes_the_session(live_server: LiveServer) -> None:
    client = DashboardClient(live_server)
    client.signup()
    stolen = client.http.cookies["wharf_session"]
    answer = client.post("/logout", {})
    assert answer.status_code == 303
    assert answer.headers["location"] == "/login"
    replay = httpx.get(f"{live_server.url}/apps", cookies={"wharf_session": stolen})
    assert replay.status_code == 303
    assert replay.headers["location"] == "/login"


def test_wrong_password_shows_the_form_again(live_server: LiveServer) -> None:
    email, _ = live_server.signup()
    client = DashboardClient(live_server)
    token = client.token_for("/login")
    form = {"email": email, "password": "wrong password", "csrf_token": token}
    answer = client.http.post("/login", data=form)
    assert answer.status_code == 401
    assert "Wrong email or password." in answer.text
    assert "wharf_session" not in answer.headers.get("set-cookie", "")


def test_failed_logins_are_rate_limited_like_the_api(live_server: LiveServer) -> None:
    email, _ = live_server.signup()
    client = DashboardClient(live_server)
    limit = int(live_server.env.get("WHARF_AUTH_MAX_FAILURES_PER_ACCOUNT", "10"))
    token = client.token_for("/login")
    statuses = [
        client.http.post("/login", data={"email": email, "password": "nope", "csrf_token": token}).status_code
        for _ in range(limit + 1)
    ]
    assert statuses[:limit] == [401] * limit
    assert statuses[limit] == 429
    # The API's own login now refuses this account too: one limiter, not two.
    api = httpx.post(f"{live_server.url}/api/login", json={"email": email, "password": PASSWORD})
    assert api.status_code == 429


def test_a_used_invite_is_refused_and_not_spent_by_a_refused_signup(live_server: LiveServer) -> None:
    taken_email, _ = live_server.signup()
    client = DashboardClient(live_server)
    invite = live_server.make_invite()
    token = client.token_for(f"/signup?invite={invite}")
    assert f'value="{invite}"' in client.page(f"/signup?invite={invite}").text
    refused = client.http.post(
        "/signup", data={"invite": invite, "email": taken_email, "password": PASSWORD, "csrf_token": token}
    )
    assert refused.status_code == 409
    assert "exists already" in refused.text
    fresh = f"fresh-{secrets.token_hex(3)}@example.com"
    accepted = client.http.post(
        "/signup", data={"invite": invite, "email": fresh, "password": PASSWORD, "csrf_token": token}
    )
    assert accepted.status_code == 303


def _app_routes() -> list[tuple[str, str]]:
    routes = []
    for router in (app_routes.router, change_routes.router):
        for route in router.routes:
            path = getattr(route, "path", "")
            for method in getattr(route, "methods", ()):
                if "{app_name}" in path:
                    routes.append((method, path))
    return routes


def test_another_users_app_is_not_found_on_every_dashboard_route(live_server: LiveServer) -> None:
    alice, bob = DashboardClient(live_server), DashboardClient(live_server)
    alice.signup()
    bob.signup()
    name = alice.create_app()
    assert alice.post(f"/apps/{name}/config", {"key": "SECRET", "value": "alice-only"}).status_code == 303

    routes = _app_routes()
    assert len(routes) >= 8
    bobs_token = bob.token_for("/apps")
    form = {
        "csrf_token": bobs_token,
        "key": "SECRET",
        "value": "bob-was-here",
        "confirm": name,
        "type": "web",
        "quantity": "1",
        "hostname": "www.example.com",
        "enabled": "on",
        "version": "1",
    }
    for method, path in routes:
        url = path.replace("{app_name}", name).replace("{build_id}", "1")
        answer = bob.http.request(method, url, data=form if method == "POST" else None)
        assert answer.status_code == 404, f"{method} {path} answered {answer.status_code}"
        assert "alice-only" not in answer.text
    assert f"/apps/{name}" not in bob.page("/apps").text
    revealed = alice.page(f"/apps/{name}?reveal=config").text
    assert "alice-only" in revealed
    assert "bob-was-here" not in revealed


def test_config_values_are_hidden_until_asked(live_server: LiveServer) -> None:
    client = DashboardClient(live_server)
    client.signup()
    name = client.create_app()
    client.post(f"/apps/{name}/config", {"key": "API_KEY", "value": "s3cr3t-value"})
    page = client.page(f"/apps/{name}").text
    assert "API_KEY" in page
    assert "s3cr3t-value" not in page
    assert "s3cr3t-value" in client.page(f"/apps/{name}?reveal=config").text
    csrf_from(page)


def test_a_viewer_reads_an_app_page_without_forms_and_its_changes_are_refused(
    live_server: LiveServer,
) -> None:
    owner, viewer = DashboardClient(live_server), DashboardClient(live_server)
    owner_email = owner.signup()
    viewer_email = viewer.signup()
    name = owner.create_app()
    owner.post(f"/apps/{name}/config", {"key": "SECRET", "value": "owner-only"}, token_from=f"/apps/{name}")
    assert viewer.page(f"/apps/{name}").status_code == 404
    login = httpx.post(f"{live_server.url}/api/login", json={"email": owner_email, "password": PASSWORD})
    api = httpx.Client(base_url=live_server.url, headers={"Authorization": f"Bearer {login.json()['token']}"})
    shared = api.post(f"/api/apps/{name}/collaborators", json={"email": viewer_email, "role": "viewer"})
    assert shared.status_code == 201

    assert f'href="/apps/{name}"' in viewer.page("/apps").text
    page = viewer.page(f"/apps/{name}")
    assert page.status_code == 200
    assert "SECRET" in page.text
    assert "owner-only" not in viewer.page(f"/apps/{name}?reveal=config").text
    assert f'action="/apps/{name}/' not in page.text
    assert f'action="/apps/{name}/destroy"' in owner.page(f"/apps/{name}").text
    for path, form in (("/config", {"key": "K", "value": "v"}), ("/destroy", {"confirm": name})):
        refused = viewer.post(f"/apps/{name}{path}", form)
        assert refused.status_code == 403, (path, refused.status_code)
        assert "role" in refused.text
    assert owner.page(f"/apps/{name}").status_code == 200
