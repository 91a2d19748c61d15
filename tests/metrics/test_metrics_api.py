"""`GET /api/apps/APP/metrics`, `wharf metrics` and the operators' Prometheus `/metrics`."""

from __future__ import annotations

import json
import secrets
import time
from pathlib import Path

import httpx
import redis
from sqlalchemy import select

from tests.conftest import LiveServer
from tests.utils.api import client_for, release_web
from tests.utils.wharf_cli import cli_env, run_wharf
from wharf.platform.db import session_scope
from wharf.platform.metrics.router import RouterMetrics
from wharf.platform.metrics.statsd import StatsdAggregator, parse_packet
from wharf.platform.metrics.store import MetricsStore
from wharf.platform.models import Alert, AutoscaleEvent, Autoscaling

LINE = (
    'at=info method=GET path="/" host=h request_id=r fwd="10.0.0.1" dyno=web.1 connect=0ms '
    "service={ms}ms status=200 bytes=100 protocol=http"
)
H12 = (
    'at=error code=H12 desc="Request timeout" method=GET path="/" host=h request_id=r fwd="10.0.0.1" '
    "dyno=web.1 connect=0ms service=30000ms status=503 bytes=0 protocol=http"
)
H14 = (
    'at=error code=H14 desc="No web processes running" method=GET path="/" host=h request_id=r '
    'fwd="10.0.0.1" dyno= connect= service= status=503 bytes=0 protocol=http'
)
CONTRACT_KEYS = {
    "time", "requests", "status", "p50_ms", "p95_ms", "p99_ms", "max_ms", "memory_rss_mb", "cpu_percent",
    "custom",
}  # fmt: skip


# Traffic recorded "now" is read back as the newest minute's point: leave the checks this many seconds
# before the minute turns (on a loaded host a `wharf` run alone can take seconds).
MINUTE_LEFT_SECONDS = 20.0


def app_with_traffic(live_server: LiveServer, *, at: float | None = None) -> tuple[str, str, httpx.Client]:
    if at is None and (left := 60.0 - time.time() % 60) < MINUTE_LEFT_SECONDS:
        time.sleep(left + 0.05)
    _, token = live_server.signup()
    api = client_for(live_server, token)
    name = f"metrics-{secrets.token_hex(4)}"
    api.post("/api/apps", json={"name": name}).raise_for_status()
    store = MetricsStore(redis.Redis.from_url(live_server.redis_url))
    router = RouterMetrics(store)
    for ms in range(1, 101):
        router.observe(name, LINE.format(ms=ms), now=at)
    router.flush()
    statsd = StatsdAggregator(store)
    statsd.add(name, parse_packet(b"signups:3|c\nqueue:4|g"), now=at)
    statsd.buffer.flush()
    return name, token, api


def router_lines(live_server: LiveServer, name: str, lines: list[str], *, at: float | None = None) -> None:
    """Count more router lines for the app, as the router's log sink does."""
    router = RouterMetrics(MetricsStore(redis.Redis.from_url(live_server.redis_url)))
    router.observe_many([(name, line) for line in lines], now=at)
    router.flush()


def test_the_api_answers_the_contract_shape_oldest_first(live_server: LiveServer) -> None:
    name, _, api = app_with_traffic(live_server)
    answer = api.get(f"/api/apps/{name}/metrics", params={"type": "web", "since": "5m"})
    assert answer.status_code == 200, answer.text
    points = answer.json()
    assert len(points) == 5
    assert [p["time"] for p in points] == sorted(p["time"] for p in points)
    last = points[-1]
    # The contract's keys, then the ones Wharf adds (the contract allows more).
    assert set(last) == CONTRACT_KEYS | {
        "errors", "bytes", "restarts", "swap_mb", "memory_limit_mb", "concurrency",
    }  # fmt: skip
    assert last["requests"] == 100 and last["status"]["2xx"] == 100
    assert last["errors"] == {} and last["bytes"] == 100 * 100
    assert 93 <= last["p95_ms"] <= 97 and last["max_ms"] == 100
    assert last["custom"] == {"signups": 3.0, "queue": 4.0}
    assert api.get(f"/api/apps/{name}/metrics", params={"type": "worker"}).json()[-1]["requests"] == 0


def test_bad_input_is_a_clear_400_and_other_users_get_404(live_server: LiveServer) -> None:
    name, _, api = app_with_traffic(live_server)
    for params in ({"since": "forever"}, {"since": "30d"}, {"type": "web\n"}, {"type": "../x"}):
        answer = api.get(f"/api/apps/{name}/metrics", params=params)
        assert answer.status_code == 400, (params, answer.text)
        assert answer.json()["message"]
    _, other = live_server.signup()
    assert client_for(live_server, other).get(f"/api/apps/{name}/metrics").status_code == 404
    assert httpx.get(f"{live_server.url}/api/apps/{name}/metrics").status_code == 401


def test_wharf_metrics_json_prints_the_api_list_and_the_table_has_sparklines(
    live_server: LiveServer, tmp_path: Path
) -> None:
    name, token, _ = app_with_traffic(live_server)
    router_lines(live_server, name, [H12, H12, H14])
    env = cli_env(live_server.url, token, tmp_path)
    printed = run_wharf(env, "metrics", "-a", name, "--type", "web", "--since", "10m", "--json")
    assert printed.returncode == 0, printed.stderr
    points = json.loads(printed.stdout)
    assert len(points) == 10 and points[-1]["requests"] == 103
    assert points[-1]["errors"] == {"H12": 2, "H14": 1} and points[-1]["status"]["5xx"] == 3
    table = run_wharf(env, "metrics", "-a", name, "--since", "10m")
    assert table.returncode == 0, table.stderr
    rows = table.stdout.splitlines()
    requests_row = next(line for line in rows if line.startswith("requests"))
    assert requests_row.split()[1].endswith("█") and requests_row.split()[-2:] == ["103", "103"]
    errors_row = next(line for line in rows if line.startswith("errors"))
    assert errors_row.split()[1].endswith("█") and errors_row.split()[2:4] == ["3", "3"]
    assert errors_row.endswith("  H12 2, H14 1"), "the codes seen, the most frequent first"
    assert any(line.startswith("signups") for line in table.stdout.splitlines())
    wrong = run_wharf(env, "metrics", "-a", name, "--since", "soon")
    assert wrong.returncode != 0 and "since must look like" in wrong.stderr


def test_wharf_metrics_marks_the_apps_events_on_the_time_axis_and_lists_them(
    live_server: LiveServer, tmp_path: Path
) -> None:
    name, token, api = app_with_traffic(live_server)
    api.post(f"/api/apps/{name}/dynos/restart", json={"target": "web"}).raise_for_status()
    env = cli_env(live_server.url, token, tmp_path)
    table = run_wharf(env, "metrics", "-a", name, "--since", "10m")
    assert table.returncode == 0, table.stderr
    lines = table.stdout.splitlines()
    requests_row = next(line for line in lines if line.startswith("requests"))
    events_row = next(line for line in lines if line.startswith("events"))
    # The sparkline's last column is this minute: the app's first release (d) and the restart (r) are in
    # it, or in the one before if a minute turned meanwhile; a deploy wins a column it shares.
    sparkline = requests_row.split()[1]
    last = requests_row.index(sparkline) + len(sparkline) - 1
    marked = {i: mark for i, mark in enumerate(events_row) if i >= len("events") and mark != " "}
    assert set(marked) <= {last - 1, last} and "d" in marked.values(), table.stdout
    assert set(marked.values()) <= {"d", "r"}, table.stdout
    listed = lines[lines.index(next(line for line in lines if line.startswith("=== Events"))) + 1 :]
    assert [line.split("  ", 1)[1].split(":")[0] for line in listed] == ["d v1 deploy", "r restart"], listed
    assert "Restart of web dynos requested by" in listed[1]
    # --json stays the contract's list of points.
    printed = json.loads(run_wharf(env, "metrics", "-a", name, "--since", "10m", "--json").stdout)
    assert isinstance(printed, list) and all("time" in point and "kind" not in point for point in printed)


def test_prometheus_metrics_need_an_operator_token(live_server: LiveServer) -> None:
    # Prometheus sees the last complete minute.
    last_minute = time.time() - 60
    name, token, _ = app_with_traffic(live_server, at=last_minute)
    router_lines(live_server, name, [H12, H12], at=last_minute)
    assert httpx.get(f"{live_server.url}/metrics").status_code == 401
    assert (
        httpx.get(f"{live_server.url}/metrics", headers={"Authorization": f"Bearer {token}"}).status_code
        == 403
    )
    answer = httpx.post(
        f"{live_server.url}/api/signup",
        json={
            "invite": live_server.admin_invite,
            "email": f"op-{secrets.token_hex(4)}@example.com",
            "password": "correct horse battery",
        },
    )
    admin = answer.json()["token"]
    text = httpx.get(f"{live_server.url}/metrics", headers={"Authorization": f"Bearer {admin}"}).text
    assert f'wharf_router_requests_per_minute{{app="{name}",type="web",status="2xx"}} 100' in text
    assert f'wharf_app_custom{{app="{name}",name="signups"}} 3' in text
    assert f'wharf_router_errors_per_minute{{app="{name}",type="web",code="H12"}} 2' in text.splitlines()


def test_a_destroyed_apps_metrics_alerts_and_autoscaling_do_not_reach_a_new_app_of_its_name(
    live_server: LiveServer,
) -> None:
    name, _, api = app_with_traffic(live_server)
    old_id = release_web(live_server, name)
    hook = "https://hooks.example.com/w"
    assert api.post(f"/api/apps/{name}/alerts", json={"kind": "errors", "webhook": hook}).status_code == 201
    api.put(f"/api/apps/{name}/autoscale/web", json={"min": 1, "max": 3, "p95_ms": 250}).raise_for_status()
    assert api.get(f"/api/apps/{name}/metrics", params={"since": "5m"}).json()[-1]["requests"] == 100

    assert api.delete(f"/api/apps/{name}", params={"confirm": name}).status_code == 204
    api.post("/api/apps", json={"name": name}).raise_for_status()

    points = api.get(f"/api/apps/{name}/metrics", params={"since": "30m"}).json()
    assert points and all(p["requests"] == 0 and p["custom"] == {} for p in points)
    assert api.get(f"/api/apps/{name}/alerts").json() == []
    assert api.get(f"/api/apps/{name}/autoscale").json() == []
    assert not redis.Redis.from_url(live_server.redis_url).keys(f"wharf:metrics:{name}:*")
    with session_scope(live_server.database_url) as session:
        for table in (Alert, Autoscaling, AutoscaleEvent):
            assert session.scalars(select(table).where(table.app_id == old_id)).all() == []
