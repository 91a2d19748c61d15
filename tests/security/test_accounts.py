"""Account attacks: invite guessing that costs the server argon2 work, locking out a stranger's
account by failing its password, and tokens that never stop working."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select, update

from tests.conftest import LiveServer
from tests.utils.api import client_for
from tests.utils.dashboard import PASSWORD, DashboardClient
from tests.utils.wharf_cli import cli_env, run_wharf
from wharf.platform.actions import accounts
from wharf.platform.db import session_scope
from wharf.platform.errors import NotFound
from wharf.platform.models import ApiToken
from wharf.platform.security import passwords
from wharf.platform.security.tokens import digest


def client_from(server: LiveServer, source_address: str) -> httpx.Client:
    """A client whose connections come from ``source_address`` (any 127.x address is this host)."""
    transport = httpx.HTTPTransport(local_address=source_address)
    return httpx.Client(base_url=server.url, transport=transport, timeout=30)


def test_a_wrong_invite_is_refused_before_any_password_is_hashed(
    live_server: LiveServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    hashed: list[str] = []
    real_hash = passwords.hash_password

    def counting_hash(password: str) -> str:
        hashed.append(password)
        return real_hash(password)

    monkeypatch.setattr(accounts, "hash_password", counting_hash)
    with session_scope(live_server.database_url) as session, pytest.raises(NotFound):
        accounts.signup(
            session=session,
            invite_code="WRONG-CODE0-00000-00000",
            email="x@example.com",
            password=PASSWORD,
        )
    assert hashed == []
    answer = httpx.post(
        f"{live_server.url}/api/signup",
        json={"invite": "WRONG-CODE0-00000-00000", "email": "y@example.com", "password": PASSWORD},
    )
    assert answer.status_code == 404 and "invite" in answer.json()["message"].lower()


def test_a_stranger_failing_the_password_does_not_lock_the_owner_out(live_server: LiveServer) -> None:
    email, _ = live_server.signup(password=PASSWORD)
    with client_from(live_server, "127.0.0.2") as stranger, client_from(live_server, "127.0.0.1") as owner:
        answers = [
            stranger.post("/api/login", json={"email": email, "password": f"guess-{i}"}).status_code
            for i in range(12)
        ]
        assert answers[:10] == [401] * 10 and answers[10:] == [429, 429]
        # The stranger is now refused even with the right password...
        assert stranger.post("/api/login", json={"email": email, "password": PASSWORD}).status_code == 429
        # ...while the owner, on an address that has not failed, logs in.
        mine = owner.post("/api/login", json={"email": email, "password": PASSWORD})
        assert mine.status_code == 200, mine.text


def test_a_token_made_with_expires_stops_working_after_it(live_server: LiveServer, tmp_path: Path) -> None:
    _, token = live_server.signup()
    env = cli_env(live_server.url, token, tmp_path)
    made = run_wharf(env, "auth:token", "--expires", "3s")
    assert made.returncode == 0, made.stderr
    short = made.stdout.strip()
    assert short.startswith("wharf_") and short != token
    assert client_for(live_server, short).get("/api/account").status_code == 200
    listed = client_for(live_server, token).get("/api/tokens").json()
    assert any(t["expires_at"] for t in listed)
    time.sleep(4)
    expired = client_for(live_server, short).get("/api/account")
    assert expired.status_code == 401
    assert expired.json()["id"] == "token_expired" and "expired" in expired.json()["message"]
    assert client_for(live_server, token).get("/api/account").status_code == 200
    bad = run_wharf(env, "auth:token", "--expires", "soon")
    assert bad.returncode != 0 and "duration" in bad.stderr


def test_dashboard_sessions_expire(live_server: LiveServer) -> None:
    dashboard = DashboardClient(live_server)
    dashboard.signup()
    cookie = dashboard.http.cookies["wharf_session"]
    with session_scope(live_server.database_url) as session:
        token = session.scalar(select(ApiToken).where(ApiToken.token_hash == digest(cookie)))
        assert token is not None and token.expires_at is not None
        lifetime = token.expires_at - datetime.now(UTC)
        assert timedelta(days=13, hours=23) < lifetime <= timedelta(days=14)
    assert dashboard.page("/apps").status_code == 200
    with session_scope(live_server.database_url) as session:
        past = datetime.now(UTC) - timedelta(seconds=1)
        session.execute(update(ApiToken).where(ApiToken.id == token.id).values(expires_at=past))
    after = dashboard.page("/apps")
    assert after.status_code in (302, 303) and after.headers["location"].startswith("/login")
    assert client_for(live_server, cookie).get("/api/account").json()["id"] == "token_expired"


def test_a_token_lifetime_out_of_range_is_refused(live_server: LiveServer) -> None:
    _, token = live_server.signup()
    client = client_for(live_server, token)
    for seconds in (0, -5, 10**12):
        assert client.post("/api/tokens", json={"expires_in": seconds}).status_code == 422
