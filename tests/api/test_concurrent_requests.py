"""Many clients at once: requests queue for a database connection instead of taking every worker
thread while the requests that hold connections wait for a thread (a deadlock until the pool times out)."""

from __future__ import annotations

from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import httpx

from tests.conftest import LiveServer

CLIENTS = 150


def test_150_concurrent_clients_all_get_answers(live_server: LiveServer) -> None:
    _email, token = live_server.signup()
    headers = {"Authorization": f"Bearer {token}"}

    def call(_index: int) -> str:
        try:
            # A deadlock shows as the pool's 30 s timeout (a 500) or no answer at all.
            answer = httpx.get(f"{live_server.url}/api/apps", headers=headers, timeout=90)
        except httpx.HTTPError as error:
            return type(error).__name__
        return str(answer.status_code)

    with ThreadPoolExecutor(CLIENTS) as pool:
        outcomes = Counter(pool.map(call, range(CLIENTS * 2)))
    assert outcomes == {"200": CLIENTS * 2}, outcomes
