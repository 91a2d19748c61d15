"""Invites: single use under concurrency, brute-force throttling, and users' own invites."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import httpx

from tests.conftest import LiveServer
from tests.utils.api import client_for, new_user_client

PASSWORD = "correct horse battery"


def test_one_single_use_code_redeemed_by_many_at_once(live_server: LiveServer) -> None:
    code = live_server.make_invite()
    clients = 16

    def redeem(i: int) -> int:
        answer = httpx.post(
            f"{live_server.url}/api/signup",
            json={"invite": code, "email": f"racer{i}-{code[-4:].lower()}@example.com", "password": PASSWORD},
            timeout=60,
        )
        return answer.status_code

    with ThreadPoolExecutor(max_workers=clients) as pool:
        statuses = list(pool.map(redeem, range(clients)))
    assert statuses.count(201) == 1, statuses
    assert statuses.count(410) == clients - 1, statuses


def test_multi_use_code_allows_exactly_its_uses_at_once(live_server: LiveServer) -> None:
    code = live_server.make_invite(uses=3)

    def redeem(i: int) -> int:
        return httpx.post(
            f"{live_server.url}/api/signup",
            json={"invite": code, "email": f"multi{i}-{code[-4:].lower()}@example.com", "password": PASSWORD},
            timeout=60,
        ).status_code

    with ThreadPoolExecutor(max_workers=10) as pool:
        statuses = list(pool.map(redeem, range(10)))
    assert statuses.count(201) == 3, statuses


def test_brute_force_of_invite_codes_gets_429(live_server: LiveServer) -> None:
    statuses = []
    for i in range(40):
        answer = httpx.post(
            f"{live_server.url}/api/signup",
            json={"invite": f"ZZZZZ-ZZZZZ-ZZZZZ-{i:05d}", "email": "guess@example.com", "password": PASSWORD},
        )
        statuses.append(answer.status_code)
        if answer.status_code == 429:
            assert int(answer.headers["retry-after"]) > 0
            assert "Try again in" in answer.json()["message"]
            break
    assert statuses[0] == 404
    assert statuses[-1] == 429
    # Even a valid code is refused while the client is throttled, so guessing cannot continue.
    valid = httpx.post(
        f"{live_server.url}/api/signup",
        json={"invite": live_server.make_invite(), "email": "real@example.com", "password": PASSWORD},
    )
    assert valid.status_code == 429


def test_brute_force_of_passwords_gets_429_per_account(live_server: LiveServer) -> None:
    email, _ = live_server.signup(password=PASSWORD)
    statuses = []
    for i in range(20):
        answer = httpx.post(
            f"{live_server.url}/api/login", json={"email": email, "password": f"guess-{i:04d}-nope"}
        )
        statuses.append(answer.status_code)
        if answer.status_code == 429:
            assert int(answer.headers["retry-after"]) > 0
            break
    assert statuses[0] == 401
    assert statuses[-1] == 429
    assert len(statuses) <= 11
    # The right password is refused too while the account is throttled.
    right = httpx.post(f"{live_server.url}/api/login", json={"email": email, "password": PASSWORD})
    assert right.status_code == 429


def test_users_hand_out_invites_within_their_quota(live_server: LiveServer) -> None:
    inviter_email, inviter = new_user_client(live_server)
    made = inviter.post("/api/invites", json={"note": "for bob"})
    assert made.status_code == 201
    code = made.json()["code"]
    bob = httpx.post(
        f"{live_server.url}/api/signup",
        json={"invite": code, "email": "bob-q@example.com", "password": PASSWORD},
    )
    assert bob.status_code == 201
    listed = inviter.get("/api/invites").json()
    assert listed[0]["note"] == "for bob"
    assert listed[0]["redeemed_by"][0]["email"] == "bob-q@example.com"
    assert code not in str(listed)
    assert listed[0]["hint"].endswith(code[-4:])
    for _ in range(2):
        assert inviter.post("/api/invites", json={}).status_code == 201
    spent = inviter.post("/api/invites", json={})
    assert spent.status_code == 403
    assert "operator" in spent.json()["message"]
    bob_client = client_for(live_server, bob.json()["token"])
    assert bob_client.get("/api/invites").json() == []
    assert inviter_email not in str(bob_client.get("/api/invites").json())


def test_admin_invite_makes_an_admin_without_quota(live_server: LiveServer) -> None:
    answer = httpx.post(
        f"{live_server.url}/api/signup",
        json={"invite": live_server.admin_invite, "email": "root-admin@example.com", "password": PASSWORD},
    )
    assert answer.status_code == 201
    assert answer.json()["user"]["is_admin"] is True
    admin = client_for(live_server, answer.json()["token"])
    for _ in range(5):
        assert admin.post("/api/invites", json={}).status_code == 201
