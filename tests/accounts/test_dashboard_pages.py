"""The beta and account pages of the dashboard, driven as a browser without JavaScript would."""

from __future__ import annotations

import html
import secrets
import time
from urllib.parse import parse_qs, urlsplit

import httpx
import pyotp
import pytest

from tests.accounts.conftest import PASSWORD, MailedServer
from tests.utils.dashboard import csrf_from

# The entry point is the point here; the database engines are covered by the API tests.
pytestmark = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)


class Browser:
    def __init__(self, server: MailedServer) -> None:
        self.http = httpx.Client(base_url=server.url, timeout=30, follow_redirects=False)

    def form(self, page: str, action: str, data: dict[str, object]) -> httpx.Response:
        shown = self.http.get(page)
        assert shown.status_code == 200, shown.text
        return self.http.post(action, data={**data, "csrf_token": csrf_from(shown.text)})


def _query(link: str, name: str) -> str:
    return parse_qs(urlsplit(link).query)[name][0]


def test_beta_page_to_signup_through_the_operator_page(mailed_server: MailedServer) -> None:
    email = f"visitor-{secrets.token_hex(4)}@example.com"
    visitor = Browser(mailed_server)
    joined = visitor.form("/beta", "/beta", {"email": email})
    assert joined.status_code == 202 and "confirmation link" in joined.text

    [confirmation] = mailed_server.mailbox.wait_for(email)
    confirm_path = mailed_server.link_in(confirmation, "/beta/confirm").removeprefix(mailed_server.url)
    token = _query(confirm_path, "token")
    confirmed = visitor.form(confirm_path, "/beta/confirm", {"token": token})
    assert confirmed.status_code == 200 and 'id="confirm-notice"' in confirmed.text
    assert visitor.form(confirm_path, "/beta/confirm", {"token": token}).status_code == 410

    stranger = Browser(mailed_server)
    assert (
        stranger.form(
            "/signup",
            "/signup",
            {
                "invite": mailed_server.make_invite(),
                "email": f"plain-{secrets.token_hex(3)}@example.com",
                "password": PASSWORD,
            },
        ).status_code
        == 303
    )
    assert stranger.http.get("/admin/waitlist").status_code == 403

    operator = Browser(mailed_server)
    admin_email = f"admin-{secrets.token_hex(3)}@example.com"
    assert (
        operator.form(
            "/signup",
            "/signup",
            {
                "invite": mailed_server.make_invite(admin=True),
                "email": admin_email,
                "password": PASSWORD,
            },
        ).status_code
        == 303
    )
    listing = operator.http.get("/admin/waitlist")
    assert listing.status_code == 200 and email in listing.text
    approved = operator.form("/admin/waitlist", "/admin/waitlist", {"emails": [email]})
    assert approved.status_code == 200 and f"Invited: {email}." in approved.text

    invite_mail = mailed_server.mailbox.wait_for(email, count=2)[1]
    signup_path = mailed_server.link_in(invite_mail, "/signup").removeprefix(mailed_server.url)
    code = _query(signup_path, "invite")
    page = visitor.http.get(signup_path)
    assert f'value="{html.escape(code)}"' in page.text
    signed_up = visitor.form(signup_path, "/signup", {"invite": code, "email": email, "password": PASSWORD})
    assert signed_up.status_code == 303 and signed_up.headers["location"] == "/apps"


def test_forgotten_password_page_and_a_reset_link_used_twice(mailed_server: MailedServer) -> None:
    email, _ = mailed_server.signup()
    browser = Browser(mailed_server)
    asked = browser.form("/forgot-password", "/forgot-password", {"email": email})
    assert asked.status_code == 202
    unknown = browser.form("/forgot-password", "/forgot-password", {"email": "no-one@example.com"})
    assert unknown.status_code == 202 and unknown.text.count("reset its password") == asked.text.count(
        "reset its password"
    )
    [message] = mailed_server.mailbox.wait_for(email)
    reset_path = mailed_server.link_in(message, "/reset-password").removeprefix(mailed_server.url)
    token = _query(reset_path, "token")
    done = browser.form(reset_path, "/reset-password", {"token": token, "password": "a new horse battery"})
    assert done.status_code == 200 and 'id="reset-notice"' in done.text
    again = browser.form(reset_path, "/reset-password", {"token": token, "password": "a third horse battery"})
    assert again.status_code == 410 and "used already" in again.text
    logged_in = browser.form(
        "/login", "/login", {"email": email, "password": "a new horse battery", "next": "/apps"}
    )
    assert logged_in.status_code == 303


def test_dashboard_login_asks_for_the_second_factor_and_lists_sessions(mailed_server: MailedServer) -> None:
    email, token = mailed_server.signup()
    with mailed_server.client(token) as api:
        secret = api.post("/account/2fa").json()["secret"]
        totp = pyotp.TOTP(secret)
        assert api.post("/account/2fa/confirm", json={"code": totp.now()}).status_code == 200
    browser = Browser(mailed_server)
    refused = browser.form("/login", "/login", {"email": email, "password": PASSWORD})
    assert refused.status_code == 401 and "two-factor" in refused.text
    code = totp.at(time.time() + totp.interval)
    accepted = browser.form("/login", "/login", {"email": email, "password": PASSWORD, "otp": code})
    assert accepted.status_code == 303

    sessions = browser.http.get("/account/sessions")
    assert (
        sessions.status_code == 200
        and "(this session)" in sessions.text
        and "Two-factor authentication is on" in sessions.text
    )
    with mailed_server.client(token) as api:
        [signup_token] = [t for t in api.get("/tokens").json() if t["current"]]
        revoked = browser.http.post(
            f"/account/sessions/{signup_token['id']}/revoke", data={"csrf_token": csrf_from(sessions.text)}
        )
        assert revoked.status_code == 303
        assert api.get("/account").status_code == 401
