"""The beta: waitlist → confirmation link → operator approval → invite email → sign-up with its code."""

from __future__ import annotations

import json
import secrets
from urllib.parse import parse_qs, urlsplit

from tests.accounts.conftest import PASSWORD, MailedServer


def _query(link: str, name: str) -> str:
    return parse_qs(urlsplit(link).query)[name][0]


def test_waitlist_confirm_approve_invite_email_and_signup(mailed_server: MailedServer) -> None:
    email = f"hopeful-{secrets.token_hex(4)}@example.com"
    with mailed_server.client() as api:
        joined = api.post("/waitlist", json={"email": email})
        assert joined.status_code == 202, joined.text

        [confirmation] = mailed_server.mailbox.wait_for(email)
        link = mailed_server.link_in(confirmation, "/beta/confirm")
        token = _query(link, "token")
        assert api.post("/waitlist/confirm", json={"token": token}).status_code == 200
        again = api.post("/waitlist/confirm", json={"token": token})
        assert again.status_code == 410, again.text

        listed = mailed_server.wharfd("waitlist", "--json")
        assert listed.returncode == 0, listed.stderr
        [entry] = [e for e in json.loads(listed.stdout) if e["email"] == email]
        assert entry["status"] == "confirmed"

        approved = mailed_server.wharfd("waitlist:approve", email)
        assert approved.returncode == 0, approved.stderr
        invite_mail = mailed_server.mailbox.wait_for(email, count=2)[1]
        assert invite_mail["Subject"] == "Your Wharf invite"
        code = _query(mailed_server.link_in(invite_mail, "/signup"), "invite")

        signed_up = api.post("/signup", json={"invite": code, "email": email, "password": PASSWORD})
        assert signed_up.status_code == 201, signed_up.text

        listed = json.loads(mailed_server.wharfd("waitlist", "--json").stdout)
        assert [e["status"] for e in listed if e["email"] == email] == ["approved"]
        twice = mailed_server.wharfd("waitlist:approve", email)
        assert twice.returncode == 1 and "approved already" in twice.stderr


def test_waitlist_answers_alike_for_known_and_new_addresses(mailed_server: MailedServer) -> None:
    known, _ = mailed_server.signup()
    new = f"new-{secrets.token_hex(4)}@example.com"
    with mailed_server.client() as api:
        for_known = api.post("/waitlist", json={"email": known})
        for_new = api.post("/waitlist", json={"email": new})
        repeated = api.post("/waitlist", json={"email": new})
    assert for_known.status_code == for_new.status_code == repeated.status_code == 202
    assert for_known.json() == for_new.json() == repeated.json()
    # The new address gets its links; the account holder is sent nothing.
    mailed_server.mailbox.wait_for(new, count=2)
    assert mailed_server.mailbox.to(known) == []
    listed = json.loads(mailed_server.wharfd("waitlist", "--json").stdout)
    assert [e["email"] for e in listed].count(new) == 1


def test_waitlist_is_rate_limited_per_client(mailed_server: MailedServer) -> None:
    with mailed_server.client() as api:
        statuses = [
            api.post("/waitlist", json={"email": f"flood-{i}-{secrets.token_hex(3)}@example.com"}).status_code
            for i in range(11)
        ]
        refused = api.post("/waitlist", json={"email": "late@example.com"})
    assert statuses[:10] == [202] * 10
    assert statuses[10] == 429
    assert refused.status_code == 429 and int(refused.headers["Retry-After"]) > 0


def test_approve_next_batch_and_bad_input(mailed_server: MailedServer) -> None:
    emails = [f"batch-{i}-{secrets.token_hex(3)}@example.com" for i in range(2)]
    with mailed_server.client() as api:
        for email in emails:
            api.post("/waitlist", json={"email": email})
            [message] = mailed_server.mailbox.wait_for(email)
            token = _query(mailed_server.link_in(message, "/beta/confirm"), "token")
            assert api.post("/waitlist/confirm", json={"token": token}).status_code == 200
    approved = mailed_server.wharfd("waitlist:approve", "--next", "500")
    assert approved.returncode == 0, approved.stderr
    for email in emails:
        assert f"approved {email}" in approved.stdout
        mailed_server.mailbox.wait_for(email, count=2)
    unknown = mailed_server.wharfd("waitlist:approve", "nobody@example.com")
    assert unknown.returncode == 1 and "not on the waitlist" in unknown.stderr
    neither = mailed_server.wharfd("waitlist:approve")
    assert neither.returncode == 1 and "--next" in neither.stderr


def test_user_emails_an_invite_and_the_tree_shows_the_redemption(mailed_server: MailedServer) -> None:
    inviter, token = mailed_server.signup()
    friend = f"friend-{secrets.token_hex(4)}@example.com"
    with mailed_server.client(token) as api:
        created = api.post("/invites", json={"email": friend})
    assert created.status_code == 201, created.text
    [message] = mailed_server.mailbox.wait_for(friend)
    assert inviter in mailed_server.mailbox.text_of(message)
    code = _query(mailed_server.link_in(message, "/signup"), "invite")
    with mailed_server.client() as api:
        assert (
            api.post("/signup", json={"invite": code, "email": friend, "password": PASSWORD}).status_code
            == 201
        )

    tree = mailed_server.wharfd("invites", "--tree", "--json")
    assert tree.returncode == 0, tree.stderr
    [root] = json.loads(tree.stdout)
    [node] = [n for n in root["invited"] if n["email"] == inviter]
    assert node["invites"] == 1 and node["redeemed"] == 1 and node["redemption_rate"] == 1.0
    assert [child["email"] for child in node["invited"]] == [friend]
    text = mailed_server.wharfd("invites", "--tree")
    assert f"  {inviter}  (1/1 redeemed, 100%)" in text.stdout
