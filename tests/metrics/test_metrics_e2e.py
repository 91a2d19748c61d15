"""Real traffic through the router, and statsd packets from inside dynos, read back with `wharf metrics`."""

from __future__ import annotations

import http.client
import json
import math
import random
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
import pytest

from tests.utils.e2e import Developer, Wharf, new_developer, remove_developer_apps
from tests.utils.wharf_cli import cli_env, run_wharf
from tests.utils.wharfd_up import push_new_app, wait_until_served

pytestmark = pytest.mark.e2e

REQUESTS = 300


@pytest.fixture(scope="module")
def owner(wharf: Wharf, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Developer, str, Path]]:
    """A developer with one pushed metrics app, shared by the tests of this module."""
    tmp_path = tmp_path_factory.mktemp("metrics-e2e")
    developer = new_developer(wharf, tmp_path)
    app = push_new_app(developer, "metrics_app", tmp_path)
    wait_until_served(wharf, app, timeout=120)
    yield developer, app, tmp_path
    remove_developer_apps(developer)


def metrics_json(developer: Developer, app: str, home: Path, *args: str) -> list[dict[str, Any]]:
    done = run_wharf(
        cli_env(developer.wharf.url, developer.token, home), "metrics", "-a", app, "--json", *args
    )
    assert done.returncode == 0, done.stderr
    points: list[dict[str, Any]] = json.loads(done.stdout)
    return points


def nearest_rank(values: list[float], quantile: float) -> float:
    ordered = sorted(values)
    return ordered[max(0, math.ceil(quantile * len(ordered)) - 1)]


def test_requests_and_p95_agree_with_what_the_load_generator_measured(
    owner: tuple[Developer, str, Path],
) -> None:
    developer, app, home = owner
    wharf = developer.wharf
    # The load goes into one minute of its own: after the warm-up requests' minute has ended.
    time.sleep(61 - time.time() % 60)
    rng = random.Random(19)
    delays = [rng.randint(20, 200) for _ in range(REQUESTS)]

    def one(ms: int) -> float:
        # A plain connection per request: what is timed is the request, not a client library's setup.
        connection = http.client.HTTPConnection("127.0.0.1", wharf.http_port, timeout=30)
        try:
            connection.connect()
            began = time.perf_counter()
            connection.request("GET", f"/work?ms={ms}", headers={"Host": f"{app}.localhost"})
            answer = connection.getresponse()
            answer.read()
            took = (time.perf_counter() - began) * 1000
        finally:
            connection.close()
        assert answer.status == 200
        return took

    began = int(time.time())
    with ThreadPoolExecutor(max_workers=8) as pool:
        measured = list(pool.map(one, delays))
    first_minute = began - began % 60
    deadline = time.monotonic() + 60
    while True:
        points = metrics_json(developer, app, home, "--type", "web", "--since", "5m")
        loaded = [p for p in points if _epoch(p["time"]) >= first_minute]
        if sum(p["requests"] for p in loaded) >= REQUESTS or time.monotonic() > deadline:
            break
        time.sleep(2)
    assert sum(p["requests"] for p in loaded) == REQUESTS, points
    assert sum(p["status"]["2xx"] for p in loaded) == REQUESTS
    # The delays are drawn independently: the busiest minute's p95 is the load's p95.
    busiest = max(loaded, key=lambda p: p["requests"])
    assert busiest["requests"] >= REQUESTS // 3, points
    client_p95 = nearest_rank(measured, 0.95)
    assert abs(busiest["p95_ms"] - client_p95) <= 0.10 * client_p95, (busiest, client_p95)
    assert busiest["p50_ms"] <= busiest["p95_ms"] <= busiest["p99_ms"] <= busiest["max_ms"]


def _epoch(iso: str) -> float:
    return datetime.fromisoformat(iso).timestamp()


def test_statsd_from_a_dyno_lands_in_its_own_app_only(
    owner: tuple[Developer, str, Path], wharf: Wharf
) -> None:
    developer, victim, home = owner
    (home / "other").mkdir(exist_ok=True)
    other = new_developer(wharf, home / "other")
    try:
        attacker = push_new_app(other, "metrics_app", home / "other")
        wait_until_served(wharf, attacker, timeout=120)
        sent = wharf.app_get(victim, "/statsd?line=" + quote("signups:3|c\nsignups:2|c\nqueue:7|g"))
        assert sent.status_code == 200
        forged = wharf.app_get(attacker, "/statsd?line=" + quote(f"{victim}.signups:1000|c\nsignups:1000|c"))
        assert forged.status_code == 200
        deadline = time.monotonic() + 30
        while True:
            custom = _custom(developer, victim, home)
            if custom.get("signups") == 5 or time.monotonic() > deadline:
                break
            time.sleep(1)
        assert custom == {"signups": 5.0, "queue": 7.0}
        deadline = time.monotonic() + 30
        while not _custom(other, attacker, home) and time.monotonic() < deadline:
            time.sleep(1)
        assert _custom(other, attacker, home) == {f"{victim}.signups": 1000.0, "signups": 1000.0}
        assert _custom(developer, victim, home) == {"signups": 5.0, "queue": 7.0}
    finally:
        remove_developer_apps(other)


def _custom(developer: Developer, app: str, home: Path) -> dict[str, float]:
    totals: dict[str, float] = {}
    for point in metrics_json(developer, app, home, "--since", "5m"):
        for name, value in point["custom"].items():
            totals[name] = totals.get(name, 0) + value
    return totals


def test_dyno_memory_and_cpu_are_collected(owner: tuple[Developer, str, Path]) -> None:
    developer, app, home = owner
    deadline = time.monotonic() + 60
    while True:
        points = metrics_json(developer, app, home, "--since", "5m")
        memory = [p["memory_rss_mb"] for p in points if p["memory_rss_mb"] is not None]
        cpu = [p["cpu_percent"] for p in points if p["cpu_percent"] is not None]
        if (memory and cpu) or time.monotonic() > deadline:
            break
        time.sleep(3)
    assert memory and 1 < max(memory) < 512, points
    assert cpu and all(0 <= value <= 200 for value in cpu), points
    answer = httpx.get(
        f"{developer.wharf.url}/metrics", headers={"Authorization": f"Bearer {developer.token}"}
    )
    assert answer.status_code == 403
