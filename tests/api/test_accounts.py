"""Sign-up with invites, login, tokens and logout against a live server."""

from __future__ import annotations

import httpx

from tests.conftest import LiveServer
from tests.utils.api import client_for

PASSWORD = "correct horse battery"


def test_signup_with_invite_then_whoami(live_server: LiveServer) -> None:
    code = live_server.make_invite()
    answer = httpx.post(
        f"{live_server.url}/api/signup",
        json={"invite": code, "email": "Alice@Example.com", "password": PASSWORD},
    )
    assert answer.status_code == 201, answer.text
    token = answer.json()["token"]
    me = client_for(live_server, token).get("/api/account")
    assert me.status_code == 200
    assert me.json()["email"] == "alice@example.com"
    assert me.json()["is_admin"] is False


def test_signup_without_valid_invite_is_refused(live_server: LiveServer) -> None:
    answer = httpx.post(
        f"{live_server.url}/api/signup",
        json={"invite": "AAAAA-BBBBB-CCCCC-DDDDD", "email": "mallory@example.com", "password": PASSWORD},
    )
    assert answer.status_code == 404
    assert answer.json()["id"] == "invite_invalid"
    assert "typos" in answer.json()["message"]
    login = httpx.post(
        f"{live_server.url}/api/login", json={"email": "mallory@example.com", "password": PASSWORD}
    )
    assert login.status_code == 401


def test_used_and_expired_invites_say_so(live_server: LiveServer) -> None:
    code = live_server.make_invite()
    first = httpx.post(
        f"{live_server.url}/api/signup",
        json={"invite": code, "email": "u1@example.com", "password": PASSWORD},
    )
    assert first.status_code == 201
    again = httpx.post(
        f"{live_server.url}/api/signup",
        json={"invite": code, "email": "u2@example.com", "password": PASSWORD},
    )
    assert again.status_code == 410
    assert "already been used" in again.json()["message"]


def test_expired_invite(live_server: LiveServer) -> None:
    from datetime import UTC, datetime, timedelta

    from sqlalchemy import update

    from wharf.platform.db import session_scope
    from wharf.platform.models import Invite
    from wharf.platform.security.tokens import invite_digest

    code = live_server.make_invite(expires_in_days=1)
    with session_scope(live_server.database_url) as session:
        session.execute(
            update(Invite)
            .where(Invite.code_hash == invite_digest(code))
            .values(expires_at=datetime.now(UTC) - timedelta(minutes=1))
        )
    answer = httpx.post(
        f"{live_server.url}/api/signup",
        json={"invite": code, "email": "late@example.com", "password": PASSWORD},
    )
    assert answer.status_code == 410
    assert "expired" in answer.json()["message"]


def test_invite_codes_are_stored_hashed(live_server: LiveServer) -> None:
    from sqlalchemy import select

    from wharf.platform.db import session_scope
    from wharf.platform.models import Invite

    code = live_server.make_invite()
    with session_scope(live_server.database_url) as session:
        stored = [(i.code_hash, i.hint) for i in session.scalars(select(Invite))]
    assert all(code not in h and code.replace("-", "") not in h for h, _ in stored)
    assert any(hint == code[-4:] for _, hint in stored)


def test_invite_code_typed_loosely_still_works(live_server: LiveServer) -> None:
    code = live_server.make_invite()
    typed = code.lower().replace("-", "")
    answer = httpx.post(
        f"{live_server.url}/api/signup",
        json={"invite": typed, "email": "loose@example.com", "password": PASSWORD},
    )
    assert answer.status_code == 201, answer.text


def test_weak_password_refused_and_invite_not_spent(live_server: LiveServer) -> None:
    code = live_server.make_invite()
    weak = httpx.post(
        f"{live_server.url}/api/signup",
        json={"invite": code, "email": "weak@example.com", "password": "short"},
    )
    assert weak.status_code == 400
    assert "at least 10 characters" in weak.json()["message"]
    ok = httpx.post(
        f"{live_server.url}/api/signup",
        json={"invite": code, "email": "weak@example.com", "password": PASSWORD},
    )
    assert ok.status_code == 201


def test_duplicate_email_does_not_spend_the_invite(live_server: LiveServer) -> None:
    email, _ = live_server.signup()
    code = live_server.make_invite()
    dup = httpx.post(
        f"{live_server.url}/api/signup", json={"invite": code, "email": email, "password": PASSWORD}
    )
    assert dup.status_code == 409
    fresh = httpx.post(
        f"{live_server.url}/api/signup",
        json={"invite": code, "email": "other-" + email, "password": PASSWORD},
    )
    assert fresh.status_code == 201


def test_login_logout_and_tokens(live_server: LiveServer) -> None:
    email, _ = live_server.signup(password=PASSWORD)
    bad = httpx.post(f"{live_server.url}/api/login", json={"email": email, "password": "wrong password!"})
    assert bad.status_code == 401
    assert bad.json()["message"] == "Wrong email or password."
    login = httpx.post(f"{live_server.url}/api/login", json={"email": email, "password": PASSWORD})
    assert login.status_code == 200
    client = client_for(live_server, login.json()["token"])

    created = client.post("/api/tokens", json={"description": "ci"})
    assert created.status_code == 201
    extra = created.json()
    assert extra["token"].startswith("wharf_")
    listed = client.get("/api/tokens").json()
    assert extra["id"] in [t["id"] for t in listed]
    assert all("token" not in t for t in listed)

    assert client_for(live_server, extra["token"]).get("/api/account").status_code == 200
    assert client.delete(f"/api/tokens/{extra['id']}").status_code == 204
    assert client_for(live_server, extra["token"]).get("/api/account").status_code == 401

    assert client.post("/api/logout").status_code == 204
    after = client.get("/api/account")
    assert after.status_code == 401
    assert after.headers["www-authenticate"].startswith("Bearer")


def test_tokens_are_stored_hashed(live_server: LiveServer) -> None:
    from sqlalchemy import select

    from wharf.platform.db import session_scope
    from wharf.platform.models import ApiToken

    _, token = live_server.signup()
    with session_scope(live_server.database_url) as session:
        hashes = list(session.scalars(select(ApiToken.token_hash)))
    assert token not in hashes
    assert all(token not in h for h in hashes)


def test_basic_auth_with_token_as_password(live_server: LiveServer) -> None:
    _, token = live_server.signup()
    answer = httpx.get(f"{live_server.url}/api/account", auth=("anything", token))
    assert answer.status_code == 200


def test_every_route_but_signup_login_health_and_the_ca_needs_a_token(live_server: LiveServer) -> None:
    spec = httpx.get(f"{live_server.url}/api/openapi.json").json()
    open_routes = {
        ("post", "/api/signup"),
        ("post", "/api/login"),
        ("get", "/api/health"),
        ("get", "/api/ca.pem"),
        # Public by design: a person without an account (or who lost the password) uses them.
        ("post", "/api/waitlist"),
        ("post", "/api/waitlist/confirm"),
        ("post", "/api/password-reset"),
        ("post", "/api/password-reset/confirm"),
    }
    checked = 0
    for path, methods in spec["paths"].items():
        for method in methods:
            url = live_server.url + path.replace("{app_name}", "some-app").replace("{version}", "1").replace(
                "{token_id}", "1"
            )
            answer = httpx.request(method.upper(), url, json={})
            if (method, path) in open_routes:
                assert answer.status_code != 401
            else:
                assert answer.status_code == 401, f"{method.upper()} {path} answered {answer.status_code}"
                assert "wharf login" in answer.json()["message"]
                checked += 1
    assert checked >= 15


def test_errors_are_json_that_say_what_to_do(live_server: LiveServer) -> None:
    missing = httpx.get(f"{live_server.url}/api/nowhere")
    assert missing.status_code == 404
    assert missing.json()["id"] == "not_found"
    invalid = httpx.post(f"{live_server.url}/api/signup", json={"email": "x@example.com"})
    assert invalid.status_code == 422
    assert "invite" in invalid.json()["message"]


def test_openapi_is_served(live_server: LiveServer) -> None:
    spec = httpx.get(f"{live_server.url}/api/openapi.json")
    assert spec.status_code == 200
    assert "/api/apps" in spec.json()["paths"]
