"""`wharf logs` and `wharf drains` against a live `wharfd api`, with lines in a real Redis."""

from __future__ import annotations

import json
import re
import secrets
import time
from pathlib import Path

import httpx
import redis

from tests.conftest import LiveServer
from tests.utils.api import client_for
from tests.utils.wharf_cli import Tail, cli_env, run_wharf
from wharf.platform.logs.stream import LogWriter

HEROKU_LINE = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}\+00:00 (app|heroku)\[[\w.]+\]: .*$")


def new_app(live_server: LiveServer) -> tuple[str, str, httpx.Client]:
    _, token = live_server.signup()
    api = client_for(live_server, token)
    name = f"logs-{secrets.token_hex(4)}"
    api.post("/api/apps", json={"name": name}).raise_for_status()
    return name, token, api


def sse_data(body: str) -> list[dict[str, str]]:
    return [json.loads(line[5:]) for line in body.splitlines() if line.startswith("data:")]


def writer_for(live_server: LiveServer) -> LogWriter:
    return LogWriter(redis.Redis.from_url(live_server.redis_url))


def test_platform_events_are_api_lines_and_the_endpoint_streams_events(live_server: LiveServer) -> None:
    name, _, api = new_app(live_server)
    writer = writer_for(live_server)
    for n in range(5):
        writer.write(name, source="app", dyno="web.1", line=f"hello {n}")
    answer = api.get(f"/api/apps/{name}/logs", params={"num": 100})
    assert answer.headers["content-type"].startswith("text/event-stream")
    entries = sse_data(answer.text)
    api_lines = [e["line"] for e in entries if e["source"] == "api"]
    assert any(line.startswith("Created by ") for line in api_lines)
    assert any(re.match(r"Release v1 created by \S+: Initial release", line) for line in api_lines)
    assert [e["line"] for e in entries if e["source"] == "app"] == [f"hello {n}" for n in range(5)]
    only_two = sse_data(api.get(f"/api/apps/{name}/logs", params={"num": 2, "source": "app"}).text)
    assert [e["line"] for e in only_two] == ["hello 3", "hello 4"]
    assert api.get(f"/api/apps/{name}/logs", params={"source": "nope"}).status_code == 400


def test_another_users_app_log_is_not_found(live_server: LiveServer) -> None:
    name, _, _ = new_app(live_server)
    _, other_token = live_server.signup()
    answer = client_for(live_server, other_token).get(f"/api/apps/{name}/logs")
    assert answer.status_code == 404


def test_wharf_logs_prints_heroku_lines_and_filters(live_server: LiveServer, tmp_path: Path) -> None:
    name, token, _ = new_app(live_server)
    writer = writer_for(live_server)
    writer.write(name, source="app", dyno="web.1", line="listening on 5000")
    writer.write(name, source="router", dyno="router", line='at=info method=GET path="/" status=200')
    env = cli_env(live_server.url, token, tmp_path)
    result = run_wharf(env, "logs", "-a", name, "--num", "10")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert all(HEROKU_LINE.match(line) for line in lines), lines
    assert lines[-2].endswith(" app[web.1]: listening on 5000")
    assert lines[-1].endswith(' heroku[router]: at=info method=GET path="/" status=200')
    routed = run_wharf(env, "logs", "-a", name, "--source", "router", "--json").stdout.splitlines()
    assert [json.loads(line)["dyno"] for line in routed] == ["router"]
    assert run_wharf(env, "logs", "-a", name, "--dyno", "web.1", "-n", "1").stdout.endswith("5000\n")


def test_wharf_logs_tail_shows_new_lines_within_a_second(live_server: LiveServer, tmp_path: Path) -> None:
    name, token, _ = new_app(live_server)
    writer = writer_for(live_server)
    writer.write(name, source="app", dyno="web.9", line="ready")
    tail = Tail(cli_env(live_server.url, token, tmp_path), "-a", name, "--dyno", "web")
    try:
        assert tail.wait_for("ready") is not None
        assert tail.wait_for("Created by", timeout=0.2) is None
        delays = []
        for n in range(5):
            written = time.monotonic()
            writer.write(name, source="app", dyno=f"web.{n + 1}", line=f"tick {n}")
            writer.write(name, source="app", dyno="worker.1", line=f"hidden {n}")
            seen = tail.wait_for(f"tick {n}", timeout=5)
            assert seen is not None, f"tick {n} did not appear"
            delays.append(seen[0] - written)
        assert max(delays) < 1.0, delays
        assert tail.wait_for("hidden", timeout=0.5) is None
    finally:
        tail.stop()


def test_drains_add_list_remove(live_server: LiveServer, tmp_path: Path) -> None:
    name, token, _ = new_app(live_server)
    env = cli_env(live_server.url, token, tmp_path)
    url = "syslog+tls://logs.example.com:6514"
    added = run_wharf(env, "drains:add", url, "-a", name)
    assert added.returncode == 0, added.stderr
    assert f"Successfully added drain {url}" in added.stdout
    again = run_wharf(env, "drains:add", url, "-a", name)
    assert again.returncode == 1 and "already drains to" in again.stderr
    bad = run_wharf(env, "drains:add", "ftp://example.com", "-a", name)
    assert bad.returncode == 1 and "syslog://HOST:PORT" in bad.stderr
    listing = run_wharf(env, "drains", "-a", name).stdout
    assert re.search(rf"^{re.escape(url)} \(d\.[0-9a-f]{{32}}\)$", listing, re.MULTILINE), listing
    removed = run_wharf(env, "drains:remove", url, "-a", name)
    assert removed.returncode == 0 and "Successfully removed drain" in removed.stdout
    assert "has no drains" in run_wharf(env, "drains", "-a", name).stdout
    api_lines = run_wharf(env, "logs", "-a", name, "--source", "api").stdout
    assert "Log drain syslog+tls://logs.example.com:6514 added by" in api_lines
