"""Live log tails against a live `wharfd api`: bounded per user, and ended when access ends."""

from __future__ import annotations

import asyncio
import secrets
import threading
import time

import httpx
import redis

from tests.conftest import LiveServer
from tests.utils.api import client_for
from wharf.platform.logs.stream import LogWriter
from wharf.platform.settings import Settings

TAILS = 1000
LIMIT = Settings().wharf_max_log_tails_per_user


def new_app(server: LiveServer) -> tuple[str, str, httpx.Client]:
    _, token = server.signup()
    api = client_for(server, token)
    name = f"tails-{secrets.token_hex(4)}"
    api.post("/api/apps", json={"name": name}).raise_for_status()
    return name, token, api


async def _open_tails(
    server: LiveServer, token: str, app: str
) -> tuple[list[int], list[dict[str, str]], float]:
    """Open TAILS tails at once and hold the granted ones while the API is asked for something else."""
    limits = httpx.Limits(max_connections=TAILS + 10, max_keepalive_connections=0)
    headers = {"Authorization": f"Bearer {token}"}
    async with httpx.AsyncClient(base_url=server.url, headers=headers, limits=limits, timeout=120) as client:
        held: list[httpx.Response] = []
        statuses: list[int] = []
        refusals: list[dict[str, str]] = []

        async def one() -> None:
            request = client.build_request("GET", f"/api/apps/{app}/logs", params={"tail": "1", "num": "0"})
            response = await client.send(request, stream=True)
            statuses.append(response.status_code)
            if response.status_code == 200:
                held.append(response)
            else:
                await response.aread()
                refusals.append(response.json())
                await response.aclose()

        await asyncio.gather(*(one() for _ in range(TAILS)))
        started = time.monotonic()
        health = await client.get("/api/apps")
        answered_in = time.monotonic() - started
        assert health.status_code == 200
        for response in held:
            await response.aclose()
        return statuses, refusals, answered_in


def test_a_thousand_concurrent_tails_from_one_user_are_bounded_and_the_api_still_answers(
    live_server: LiveServer,
) -> None:
    app, token, api = new_app(live_server)
    statuses, refusals, answered_in = asyncio.run(_open_tails(live_server, token, app))
    assert statuses.count(200) == LIMIT
    assert statuses.count(429) == TAILS - LIMIT
    assert {r["id"] for r in refusals} == {"too_many_log_tails"}
    assert "WHARF_MAX_LOG_TAILS_PER_USER" in refusals[0]["message"]
    assert answered_in < 5, f"the API took {answered_in:.1f} s to answer while the tails were open"
    # Closed tails give their places back.
    deadline = time.monotonic() + 30
    while True:
        with api.stream("GET", f"/api/apps/{app}/logs", params={"tail": "1", "num": "0"}) as response:
            if response.status_code == 200:
                break
        assert time.monotonic() < deadline, "closed tails were never released"
        time.sleep(0.5)
    # Another user is not limited by the first one's tails.
    other_app, _, other = new_app(live_server)
    with other.stream("GET", f"/api/apps/{other_app}/logs", params={"tail": "1", "num": "0"}) as response:
        assert response.status_code == 200


def _tail_until_closed(
    server: LiveServer, token: str, app: str, lines: list[str], done: threading.Event
) -> None:
    client = client_for(server, token)
    client.timeout = httpx.Timeout(60, read=60)
    with client.stream("GET", f"/api/apps/{app}/logs", params={"tail": "1", "num": "0"}) as response:
        assert response.status_code == 200
        for line in response.iter_lines():
            lines.append(line)
    done.set()


def test_a_revoked_tokens_open_tail_ends(live_server: LiveServer) -> None:
    app, _, api = new_app(live_server)
    second = api.post("/api/tokens", json={"description": "tail"}).json()
    lines: list[str] = []
    done = threading.Event()
    threading.Thread(
        target=_tail_until_closed, args=(live_server, second["token"], app, lines, done), daemon=True
    ).start()
    writer = LogWriter(redis.Redis.from_url(live_server.redis_url))
    time.sleep(1.5)
    writer.write(app, source="app", dyno="web.1", line="before revoking")
    api.delete(f"/api/tokens/{second['id']}").raise_for_status()
    revoked_at = time.monotonic()
    assert done.wait(20), "the tail kept streaming after its token was revoked"
    ended_in = time.monotonic() - revoked_at
    writer.write(app, source="app", dyno="web.1", line="after the tail ended")
    assert any("before revoking" in line for line in lines)
    assert not any("after the tail ended" in line for line in lines)
    assert ended_in < 12


def test_an_open_tail_ends_when_the_app_is_destroyed(live_server: LiveServer) -> None:
    app, token, api = new_app(live_server)
    lines: list[str] = []
    done = threading.Event()
    threading.Thread(
        target=_tail_until_closed, args=(live_server, token, app, lines, done), daemon=True
    ).start()
    time.sleep(1.0)
    api.request("DELETE", f"/api/apps/{app}", params={"confirm": app}).raise_for_status()
    assert done.wait(20), "the tail kept streaming after the app was destroyed"


def test_a_removed_collaborators_open_tail_ends(live_server: LiveServer) -> None:
    app, _, owner = new_app(live_server)
    viewer_email, viewer_token = live_server.signup()
    owner.post(
        f"/api/apps/{app}/collaborators", json={"email": viewer_email, "role": "viewer"}
    ).raise_for_status()
    lines: list[str] = []
    done = threading.Event()
    threading.Thread(
        target=_tail_until_closed, args=(live_server, viewer_token, app, lines, done), daemon=True
    ).start()
    writer = LogWriter(redis.Redis.from_url(live_server.redis_url))
    time.sleep(1.5)
    writer.write(app, source="app", dyno="web.1", line="while a viewer")
    owner.delete(f"/api/apps/{app}/collaborators/{viewer_email}").raise_for_status()
    assert done.wait(20), "the tail kept streaming after the collaborator was removed"
    writer.write(app, source="app", dyno="web.1", line="after removal")
    assert any("while a viewer" in line for line in lines)
    assert not any("after removal" in line for line in lines)
