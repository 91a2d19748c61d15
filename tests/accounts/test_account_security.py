"""Accounts: password change and reset links, two-factor login, token revocation, account deletion."""

from __future__ import annotations

import secrets
import time
from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

import httpx
import pyotp
from sqlalchemy import select, update

from tests.accounts.conftest import PASSWORD, MailedServer
from wharf.platform.db import session_scope, utcnow
from wharf.platform.models import AccountLink, TotpFactor, User

NEW_PASSWORD = "another horse battery"


def _reset_token(server: MailedServer, email: str, count: int = 1) -> str:
    message = server.mailbox.wait_for(email, count=count)[count - 1]
    return parse_qs(urlsplit(server.link_in(message, "/reset-password")).query)["token"][0]


def _login(server: MailedServer, email: str, password: str, otp: str | None = None) -> httpx.Response:
    body = {"email": email, "password": password} | ({"otp": otp} if otp else {})
    with server.client() as api:
        return api.post("/login", json=body)


def test_reset_link_works_once_and_ends_every_session(mailed_server: MailedServer) -> None:
    email, token = mailed_server.signup()
    with mailed_server.client() as api:
        asked = api.post("/password-reset", json={"email": email})
        assert asked.status_code == 202
        link_token = _reset_token(mailed_server, email)
        used = api.post("/password-reset/confirm", json={"token": link_token, "new_password": NEW_PASSWORD})
        assert used.status_code == 200, used.text
        again = api.post(
            "/password-reset/confirm", json={"token": link_token, "new_password": "third horse x"}
        )
        assert again.status_code == 410, again.text
    assert _login(mailed_server, email, NEW_PASSWORD).status_code == 200
    assert _login(mailed_server, email, PASSWORD).status_code == 401
    with mailed_server.client(token) as old_session:
        assert old_session.get("/account").status_code == 401


def test_expired_reset_link_fails(mailed_server: MailedServer) -> None:
    email, _ = mailed_server.signup()
    with mailed_server.client() as api:
        api.post("/password-reset", json={"email": email})
        link_token = _reset_token(mailed_server, email)
        with session_scope(mailed_server.database_url) as session:
            user_id = session.scalar(select(User.id).where(User.email == email))
            session.execute(
                update(AccountLink)
                .where(AccountLink.user_id == user_id)
                .values(expires_at=utcnow() - timedelta(seconds=1))
            )
        expired = api.post(
            "/password-reset/confirm", json={"token": link_token, "new_password": NEW_PASSWORD}
        )
    assert expired.status_code == 410
    assert _login(mailed_server, email, PASSWORD).status_code == 200


def test_reset_answers_alike_for_unknown_emails_and_is_rate_limited(mailed_server: MailedServer) -> None:
    email, _ = mailed_server.signup()
    unknown = f"nobody-{secrets.token_hex(4)}@example.com"
    with mailed_server.client() as api:
        for_known = api.post("/password-reset", json={"email": email})
        for_unknown = api.post("/password-reset", json={"email": unknown})
        assert for_known.status_code == for_unknown.status_code == 202
        assert for_known.json() == for_unknown.json()
        statuses = [api.post("/password-reset", json={"email": email}).status_code for _ in range(10)]
    assert statuses[-1] == 429 and statuses[:8] == [202] * 8
    mailed_server.mailbox.wait_for(email)
    assert mailed_server.mailbox.to(unknown) == []


def test_password_change_needs_the_current_one_and_revokes_other_sessions(
    mailed_server: MailedServer,
) -> None:
    email, token = mailed_server.signup()
    other = _login(mailed_server, email, PASSWORD).json()["token"]
    with mailed_server.client(token) as api:
        wrong = api.post("/account/password", json={"current_password": "nope", "new_password": NEW_PASSWORD})
        assert wrong.status_code == 401
        weak = api.post("/account/password", json={"current_password": PASSWORD, "new_password": "x"})
        assert weak.status_code == 400
        changed = api.post(
            "/account/password", json={"current_password": PASSWORD, "new_password": NEW_PASSWORD}
        )
        assert changed.status_code == 200, changed.text
        assert api.get("/account").status_code == 200
    with mailed_server.client(other) as revoked:
        assert revoked.get("/account").status_code == 401
    assert _login(mailed_server, email, NEW_PASSWORD).status_code == 200


def test_two_factor_login_and_single_use_recovery_codes(mailed_server: MailedServer) -> None:
    email, token = mailed_server.signup()
    with mailed_server.client(token) as api:
        enrollment = api.post("/account/2fa").json()
        totp = pyotp.TOTP(enrollment["secret"])
        assert enrollment["uri"].startswith("otpauth://totp/")
        assert api.post("/account/2fa/confirm", json={"code": "000000"}).status_code == 401
        confirmed = api.post("/account/2fa/confirm", json={"code": totp.now()})
        assert confirmed.status_code == 200, confirmed.text
        codes = confirmed.json()["recovery_codes"]
        assert len(codes) == 10 and len(set(codes)) == 10

    with session_scope(mailed_server.database_url) as session:
        user_id = session.scalar(select(User.id).where(User.email == email))
        factor = session.get(TotpFactor, user_id)
        assert factor is not None and enrollment["secret"].encode() not in factor.secret_encrypted

    needs_code = _login(mailed_server, email, PASSWORD)
    assert needs_code.status_code == 401 and needs_code.json()["id"] == "otp_required"
    assert _login(mailed_server, email, PASSWORD, otp="123456").status_code == 401
    # The code of the enrollment step was used; the next step's code is accepted once (clock drift).
    next_code = totp.at(time.time() + totp.interval)
    assert _login(mailed_server, email, PASSWORD, otp=next_code).status_code == 200
    assert _login(mailed_server, email, PASSWORD, otp=next_code).status_code == 401
    assert _login(mailed_server, email, PASSWORD, otp=codes[0]).status_code == 200
    assert _login(mailed_server, email, PASSWORD, otp=codes[0]).status_code == 401
    assert _login(mailed_server, email, "wrong password", otp=codes[1]).status_code == 401
    assert _login(mailed_server, email, PASSWORD, otp=codes[1]).status_code == 200

    with mailed_server.client(token) as api:
        assert api.get("/account/2fa").json() == {"enabled": True, "recovery_codes_left": 8}
        off = api.post("/account/2fa/disable", json={"password": PASSWORD, "code": codes[2]})
        assert off.status_code == 200, off.text
    assert _login(mailed_server, email, PASSWORD).status_code == 200


def test_token_revocation_takes_effect_at_once(mailed_server: MailedServer) -> None:
    _, token = mailed_server.signup()
    with mailed_server.client(token) as api:
        extra = api.post("/tokens", json={"description": "ci"}).json()
        listed = api.get("/tokens").json()
        assert [t["current"] for t in listed] == [True, False]
        with mailed_server.client(extra["token"]) as ci:
            assert ci.get("/account").status_code == 200
            assert api.delete(f"/tokens/{extra['id']}").status_code == 204
            assert ci.get("/account").status_code == 401
        assert [t["id"] for t in api.get("/tokens").json()] == [listed[0]["id"]]


def test_account_deletion_destroys_owned_apps(mailed_server: MailedServer) -> None:
    email, token = mailed_server.signup()
    name = f"doomed-{secrets.token_hex(3)}"
    with mailed_server.client(token) as api:
        assert api.post("/apps", json={"name": name}).status_code == 201
        mismatch = api.post("/account/delete", json={"confirm": "other@example.com", "password": PASSWORD})
        assert mismatch.status_code == 400
        assert api.get(f"/apps/{name}").status_code == 200
        deleted = api.post("/account/delete", json={"confirm": email, "password": PASSWORD})
        assert deleted.status_code == 200, deleted.text
        assert deleted.json() == {"destroyed_apps": [name]}
        assert api.get("/account").status_code == 401
    _, other = mailed_server.signup()
    with mailed_server.client(other) as api:
        assert api.post("/apps", json={"name": name}).status_code == 201
    assert _login(mailed_server, email, PASSWORD).status_code == 401


def test_account_deletion_is_refused_while_it_is_the_only_admin_of_a_team_with_apps(
    mailed_server: MailedServer,
) -> None:
    email, token = mailed_server.signup()
    member_email, member_token = mailed_server.signup()
    team = f"crew-{secrets.token_hex(3)}"
    name = f"shared-{secrets.token_hex(3)}"
    with mailed_server.client(token) as api:
        assert api.post("/teams", json={"name": team}).status_code == 201
        member = {"email": member_email, "role": "member"}
        assert api.put(f"/teams/{team}/members", json=member).status_code == 200
        assert api.post("/apps", json={"name": name, "team": team}).status_code == 201
        refused = api.post("/account/delete", json={"confirm": email, "password": PASSWORD})
        assert refused.status_code == 409, refused.text
        message = refused.json()["message"]
        assert team in message and "Nothing was deleted" in message
        assert f"wharf members:add EMAIL -t {team} --role admin" in message
        assert api.get(f"/apps/{name}").status_code == 200, "the team's app is still there"
        assert api.get("/account").status_code == 200, "so is the account"
        admin = {"email": member_email, "role": "admin"}
        assert api.put(f"/teams/{team}/members", json=admin).status_code == 200
        deleted = api.post("/account/delete", json={"confirm": email, "password": PASSWORD})
        assert deleted.status_code == 200, deleted.text
    with mailed_server.client(member_token) as api:
        members = api.get(f"/teams/{team}/members")
        assert members.status_code == 200
        assert [m["email"] for m in members.json()] == [member_email], "the team has its new admin"
