"""Rate limits through a live API with small limits: headers on every answer, 429 past the limit,
Retry-After that is enough, git and log tails counted apart, and the usage they add up to."""

from __future__ import annotations

import json
import secrets
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import redis

from tests.conftest import LiveServer, running_api
from tests.utils.api import client_for
from tests.utils.wharf_cli import cli_env, run_wharf
from wharf.platform.metering.buckets import BUCKET_PREFIX
from wharf.platform.migrate import upgrade_database

API_LIMIT = 12
GIT_LIMIT = 4
LOG_TAIL_LIMIT = 3
WINDOW = 30  # seconds: one API call comes back every 2.5 seconds


@pytest.fixture(scope="module")
def limited_server(redis_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    data_dir = tmp_path_factory.mktemp("limited")
    database_url = f"sqlite:///{data_dir / 'wharf.db'}"
    upgrade_database(database_url)
    limits = {
        "WHARF_RATE_LIMIT_WINDOW_SECONDS": str(WINDOW),
        "WHARF_API_RATE_LIMIT": str(API_LIMIT),
        "WHARF_ANONYMOUS_RATE_LIMIT": str(API_LIMIT),
        "WHARF_GIT_RATE_LIMIT": str(GIT_LIMIT),
        "WHARF_LOG_TAIL_RATE_LIMIT": str(LOG_TAIL_LIMIT),
    }
    with running_api(database_url, redis_url, data_dir, **limits) as server:
        yield server


@pytest.fixture(autouse=True)
def _fresh_buckets(limited_server: LiveServer) -> None:
    client = redis.Redis.from_url(limited_server.redis_url)
    # Usage too: user ids of this module's fresh database may repeat those of an earlier run.
    for pattern in (f"{BUCKET_PREFIX}*", "wharf:usage:*"):
        for key in client.scan_iter(pattern):
            client.delete(key)
    client.close()


def _user(server: LiveServer) -> httpx.Client:
    # Each test starts with clean buckets (see the autouse fixture), and the signup is an anonymous call.
    _email, token = server.signup()
    return client_for(server, token)


def _spend_all(client: httpx.Client, path: str, limit: int) -> list[httpx.Response]:
    """Calls until the first refusal (a slow machine may see a token come back on the way)."""
    answers: list[httpx.Response] = []
    while len(answers) < 2 * limit and (not answers or answers[-1].status_code != 429):
        answers.append(client.get(path))
    return answers


def test_quick_calls_then_429_with_headers_and_a_retry_after_that_works(limited_server: LiveServer) -> None:
    client = _user(limited_server)
    answers = _spend_all(client, "/api/apps", API_LIMIT)
    ok, refused = answers[:-1], answers[-1]
    assert all(a.status_code == 200 for a in ok), [a.status_code for a in ok]
    assert API_LIMIT <= len(ok) <= API_LIMIT + 2
    remaining = [int(a.headers["RateLimit-Remaining"]) for a in ok]
    assert remaining[:3] == [API_LIMIT - 1, API_LIMIT - 2, API_LIMIT - 3]
    assert remaining[-1] == 0
    assert ok[0].headers["RateLimit-Limit"] == str(API_LIMIT)
    assert ok[0].headers["RateLimit-Policy"] == f"{API_LIMIT};w={WINDOW}"
    assert 0 < int(ok[-1].headers["RateLimit-Reset"]) <= WINDOW

    assert refused.status_code == 429
    assert refused.json()["id"] == "rate_limited"
    assert "Retry in" in refused.json()["message"]
    assert refused.headers["RateLimit-Remaining"] == "0"
    retry_after = int(refused.headers["Retry-After"])
    assert 1 <= retry_after <= WINDOW
    time.sleep(retry_after)
    again = client.get("/api/apps")
    assert again.status_code == 200, again.text
    assert "RateLimit-Remaining" in again.headers


def test_headers_on_errors_and_anonymous_calls(limited_server: LiveServer) -> None:
    client = _user(limited_server)
    missing = client.get("/api/apps/no-such-app")
    assert missing.status_code == 404
    assert missing.headers["RateLimit-Limit"] == str(API_LIMIT)
    no_route = client.get("/api/no/such/route")
    assert no_route.status_code == 404
    assert "RateLimit-Remaining" in no_route.headers
    invalid = client.post("/api/apps", json={"name": 7})
    assert invalid.status_code == 422
    assert "RateLimit-Remaining" in invalid.headers
    anonymous = httpx.get(f"{limited_server.url}/api/account")
    assert anonymous.status_code == 401
    assert "RateLimit-Remaining" in anonymous.headers


def test_anonymous_calls_are_bucketed_per_address(limited_server: LiveServer) -> None:
    with httpx.Client(base_url=limited_server.url) as anonymous:
        answers = _spend_all(anonymous, "/api/health", API_LIMIT)
    assert [a.status_code for a in answers[:API_LIMIT]] == [200] * API_LIMIT
    assert answers[-1].status_code == 429
    assert int(answers[-1].headers["Retry-After"]) >= 1


def test_another_token_of_the_account_shares_the_account_bucket(limited_server: LiveServer) -> None:
    client = _user(limited_server)
    second = client.post("/api/tokens", json={"description": "second"})
    assert second.status_code in (200, 201), second.text
    other = client_for(limited_server, second.json()["token"])
    _spend_all(client, "/api/apps", API_LIMIT - 2)
    assert other.get("/api/apps").status_code == 429


def test_git_and_log_tails_are_counted_apart(limited_server: LiveServer) -> None:
    client = _user(limited_server)
    name = f"rl-{secrets.token_hex(3)}"
    assert client.post("/api/apps", json={"name": name}).status_code == 201
    git = _spend_all(client, f"/git/{name}.git/info/refs?service=git-upload-pack", GIT_LIMIT)
    assert [a.status_code for a in git[:GIT_LIMIT]] == [200] * GIT_LIMIT
    assert git[-1].status_code == 429
    assert git[0].headers["RateLimit-Limit"] == str(GIT_LIMIT)
    with client.stream("GET", f"/api/apps/{name}/logs", params={"tail": "true"}) as tail:
        assert tail.headers["RateLimit-Limit"] == str(LOG_TAIL_LIMIT)
        assert int(tail.headers["RateLimit-Remaining"]) == LOG_TAIL_LIMIT - 1
    apps = client.get("/api/apps")
    assert apps.status_code == 200
    # Two API calls so far (create, list): git requests and the tail did not spend from the API bucket.
    assert int(apps.headers["RateLimit-Remaining"]) == API_LIMIT - 2

    usage = client.get("/api/account/usage", params={"days": 2})
    assert usage.status_code == 200
    today = usage.json()["days"][0]
    assert today["git"] == len(git) - 1
    assert today["logs"] == 1
    assert today["api"] >= 2
    assert today["total"] == today["api"] + today["git"] + today["logs"]
    assert usage.json()["limits"] == {"window_seconds": WINDOW, "api": API_LIMIT, "git": GIT_LIMIT, "logs": 3}


def test_wharfd_usage_lists_requests_per_account_per_day(limited_server: LiveServer) -> None:
    email, token = limited_server.signup()
    client = client_for(limited_server, token)
    for _ in range(3):
        assert client.get("/api/apps").status_code == 200
    shown = subprocess.run(
        [sys.executable, "-m", "wharf.platform.wharfd", "usage", "--json", "--days", "2"],
        env=limited_server.env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert shown.returncode == 0, shown.stderr
    rows = [row for row in json.loads(shown.stdout) if row["account"] == email]
    assert len(rows) == 1
    assert rows[0]["api"] == 3
    assert rows[0]["total"] == 3
    assert any(row["account"] == "anonymous" for row in json.loads(shown.stdout))
    table = subprocess.run(
        [sys.executable, "-m", "wharf.platform.wharfd", "usage"],
        env=limited_server.env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert email in table.stdout


def test_wharf_auth_usage(limited_server: LiveServer, tmp_path: Path) -> None:
    _email, token = limited_server.signup()
    client = client_for(limited_server, token)
    for _ in range(2):
        assert client.get("/api/apps").status_code == 200
    env = cli_env(limited_server.url, token, tmp_path)
    shown = run_wharf(env, "auth:usage", "--json")
    assert shown.returncode == 0, shown.stderr
    usage = json.loads(shown.stdout)
    # The two calls above, and the CLI's own call, which is counted before it is answered.
    assert usage["days"][0]["api"] == 3
    assert usage["limits"]["api"] == API_LIMIT
    table = run_wharf(env, "auth:usage")
    assert table.returncode == 0, table.stderr
    assert "API calls" in table.stdout
    assert usage["days"][0]["date"] in table.stdout
