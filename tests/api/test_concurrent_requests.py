"""Many clients at once: requests queue for a database connection instead of taking every worker
thread while the requests that hold connections wait for a thread (a deadlock until the pool times out)."""

from __future__ import annotations

import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import httpx

from tests.conftest import LiveServer

CLIENTS = 150


def test_150_concurrent_clients_all_get_answers_promptly(live_server: LiveServer) -> None:
    _email, token = live_server.signup()
    headers = {"Authorization": f"Bearer {token}"}

    def call(_index: int) -> str:
        try:
            answer = httpx.get(f"{live_server.url}/api/apps", headers=headers, timeout=25)
        except httpx.HTTPError as error:
            return type(error).__name__
        return str(answer.status_code)

    started = time.monotonic()
    with ThreadPoolExecutor(CLIENTS) as pool:
        outcomes = Counter(pool.map(call, range(CLIENTS * 2)))
    elapsed = time.monotonic() - started
    assert outcomes == {"200": CLIENTS * 2}, outcomes
    assert elapsed < 20, f"{CLIENTS * 2} requests took {elapsed:.1f} s"
