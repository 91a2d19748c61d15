"""The app page's graphs in a real browser: response time, throughput by status, memory against the
dyno's limit and dyno load, drawn from the app's metrics, with its events marked on every graph."""

from __future__ import annotations

import secrets
import time
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis
from playwright.sync_api import Page, expect

from tests.conftest import LiveServer
from tests.utils.api import client_for, release_web
from tests.utils.dashboard import PASSWORD, DashboardClient
from wharf.platform.metrics.router import RouterMetrics
from wharf.platform.metrics.store import Delta, MetricsStore, minute_of

pytestmark = pytest.mark.e2e

LINE = (
    'at=info method=GET path="/" host=h request_id=r fwd="10.0.0.1" dyno=web.1 connect=0ms '
    "service={ms}ms status={status} bytes=100 protocol=http"
)
# Per minute, oldest first: (requests, slowest ms, 404s and 500s among them, memory RSS MB, CPU %).
MINUTES = ((40, 120, 3, 0, 96.5, 12.5), (90, 480, 0, 5, 128.0, 41.0), (25, 60, 2, 1, 110.25, 7.0))
# The app has no formation yet, so the limits are a basic dyno's: 512 MB and half a CPU.
MEMORY_LIMIT_MB, CPU_SHARE_PERCENT = 512, 50
GRAPHS = """
() => Object.fromEntries(Object.entries(window.wharfGraphs).map(([key, plot]) => [key, {
  data: plot.data,
  canvas: !!plot.root.querySelector("canvas"),
  markers: [...plot.root.querySelectorAll(".event-marker")].map((m) => ({
    kind: m.dataset.kind, time: Number(m.dataset.time), label: m.dataset.label, title: m.title,
  })),
}]))
"""


def observe(router: RouterMetrics, app: str, at: float, count: int, slowest: int, status: int) -> None:
    for n in range(count):
        router.observe(app, LINE.format(ms=1 + n * slowest // count, status=status), now=at)


def record_minutes(redis_url: str, app: str) -> list[int]:
    """MINUTES as the router and the dyno collector record them, ending a minute ago; and a dyno of
    the middle minute exiting with 137. Returns the minutes' starts."""
    store = MetricsStore(redis.Redis.from_url(redis_url))
    router = RouterMetrics(store)
    now = time.time()
    starts = []
    for back, (requests, slowest, missing, errors, rss, cpu) in zip((3, 2, 1), MINUTES, strict=True):
        at = now - back * 60
        starts.append(minute_of(at))
        observe(router, app, at, missing, slowest, 404)
        observe(router, app, at, errors, slowest, 500)
        observe(router, app, at, requests - missing - errors, slowest, 200)
        dyno = Delta(app, minute_of(at))
        dyno.top("p|web|rss_max", rss)
        dyno.add["p|web|cpu_sum"] += cpu
        dyno.add["p|web|cpu_n"] += 1
        if back == 2:
            dyno.add["p|web|restarts"] += 1
            dyno.add["p|web|exit|137"] += 1
        store.write([dyno])
    router.flush()
    return starts


def column_by_minute(data: list[list[float | None]]) -> dict[int, list[float | None]]:
    """uPlot's columns (times, then one list per series) as each minute's values."""
    return {int(x): [series[i] for series in data[1:]] for i, x in enumerate(data[0]) if x is not None}


def epoch(iso: str) -> float:
    return datetime.fromisoformat(iso).timestamp()


def log_in(page: Page, server: LiveServer, email: str) -> None:
    page.goto(f"{server.url}/login")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(page).to_have_url(f"{server.url}/apps")


def app_with_history(server: LiveServer) -> tuple[str, httpx.Client, str, list[int]]:
    """An app with a release (a config change), a restart and three minutes of metrics."""
    email, token = server.signup()
    api = client_for(server, token)
    name = f"graphs-{secrets.token_hex(3)}"
    api.post("/api/apps", json={"name": name}).raise_for_status()
    api.patch(f"/api/apps/{name}/config", json={"GREETING": "hello"}).raise_for_status()
    api.post(f"/api/apps/{name}/dynos/restart", json={"target": "web"}).raise_for_status()
    return name, api, email, record_minutes(server.redis_url, name)


def drawn(page: Page) -> dict[str, Any]:
    graphs: dict[str, Any] = page.evaluate(GRAPHS)
    return graphs


def test_the_app_page_graphs_four_series_with_event_markers_and_refreshes_without_reload(
    page: Page, live_server: LiveServer, artifacts: Path
) -> None:
    name, api, email, starts = app_with_history(live_server)
    points = api.get(f"/api/apps/{name}/metrics", params={"since": "1h"}).json()
    by_minute = {int(epoch(p["time"])): p for p in points}
    assert [by_minute[start]["requests"] for start in starts] == [m[0] for m in MINUTES]
    # v1 when the app was made, v2 by the config change.
    releases = sorted(api.get(f"/api/apps/{name}/releases").json(), key=lambda r: int(r["version"]))
    assert [r["version"] for r in releases] == [1, 2]

    page.clock.install()
    log_in(page, live_server, email)
    page.goto(f"{live_server.url}/apps/{name}")
    page.wait_for_function("() => document.getElementById('metrics').dataset.refreshes === '1'")
    page.evaluate("() => { window.sameDocument = true; }")
    expect(page.locator("#graphs-status")).to_contain_text("updated")
    graphs = drawn(page)
    assert set(graphs) == {"response", "throughput", "memory", "load"}
    assert all(graph["canvas"] for graph in graphs.values())
    columns = {key: column_by_minute(graph["data"]) for key, graph in graphs.items()}
    for key in columns:
        assert set(starts) <= set(columns[key]) and len(columns[key]) == 60
    # Every minute drawn is the API's point (compared by minute, so a minute turning changes nothing).
    for minute in set(by_minute) & set(columns["throughput"]):
        point = by_minute[minute]
        assert columns["response"][minute] == [point["p50_ms"], point["p95_ms"]]
        assert columns["throughput"][minute] == [point["status"][c] for c in ("2xx", "3xx", "4xx", "5xx")]
        assert columns["memory"][minute] == [point["memory_rss_mb"], MEMORY_LIMIT_MB]
        assert columns["load"][minute] == [point["cpu_percent"], CPU_SHARE_PERCENT]
    # ... and the recorded traffic and dyno readings.
    for minute, (requests, slowest, missing, errors, rss, cpu) in zip(starts, MINUTES, strict=True):
        assert columns["throughput"][minute] == [requests - missing - errors, 0, missing, errors]
        p50, p95 = columns["response"][minute]
        assert p50 is not None and p95 is not None and 0 < p50 < p95 <= slowest
        assert columns["memory"][minute] == [round(rss, 1), MEMORY_LIMIT_MB]
        assert columns["load"][minute] == [cpu, CPU_SHARE_PERCENT]

    # The release, the restart and the dyno exit are marked on every graph, at their times.
    events = api.get(f"/api/apps/{name}/metrics/events", params={"since": "1h"}).json()
    restart = next(event for event in events if event["kind"] == "restart")
    for graph in graphs.values():
        markers = {marker["kind"]: marker for marker in graph["markers"]}
        assert set(markers) == {"deploy", "restart", "crash"}
        deploys = [marker for marker in graph["markers"] if marker["kind"] == "deploy"]
        assert [marker["label"] for marker in deploys] == ["v1 deploy", "v2 deploy"]
        for marker, release in zip(deploys, releases, strict=True):
            assert marker["time"] == pytest.approx(epoch(release["created_at"]), abs=0.01)
        assert "Set GREETING config vars" in deploys[1]["title"]
        assert markers["restart"]["time"] == pytest.approx(epoch(restart["time"]), abs=0.01)
        assert "Restart of web dynos requested by" in markers["restart"]["title"]
        assert (markers["crash"]["time"], markers["crash"]["label"]) == (starts[1], "web exit 137")
        assert "exited with code 137" in markers["crash"]["title"]
    expect(page.locator("#graph-events li")).to_have_count(4)
    page.locator("#metrics").screenshot(path=str(artifacts / "app-graphs.png"))

    # A new minute of traffic shows on the next refresh, in the same document.
    router = RouterMetrics(MetricsStore(redis.Redis.from_url(live_server.redis_url)))
    now = time.time()
    observe(router, name, now, 7, 30, 302)
    router.flush()
    page.clock.fast_forward("00:31")
    page.wait_for_function("() => document.getElementById('metrics').dataset.refreshes === '2'")
    assert page.evaluate("() => window.sameDocument") is True
    refreshed = column_by_minute(drawn(page)["throughput"]["data"])
    assert len(refreshed) == 60 and refreshed[minute_of(now)][1] == 7


def test_the_events_route_answers_the_apps_events_to_its_members_only(live_server: LiveServer) -> None:
    name, api, _, starts = app_with_history(live_server)
    events = api.get(f"/api/apps/{name}/metrics/events", params={"since": "1h"}).json()
    # Oldest first: the exit was recorded two minutes back, the releases and the restart just now.
    assert [e["kind"] for e in events] == ["crash", "deploy", "deploy", "restart"]
    assert events[0]["label"] == "web exit 137" and epoch(events[0]["time"]) == starts[1]
    assert [e["label"] for e in events[1:3]] == ["v1 deploy", "v2 deploy"]
    assert events[3]["message"].startswith("Restart of web dynos requested by")
    assert api.get(f"/api/apps/{name}/metrics/events", params={"since": "soon"}).status_code == 400

    _, stranger_token = live_server.signup()
    stranger = client_for(live_server, stranger_token)
    refused = stranger.get(f"/api/apps/{name}/metrics/events")
    assert refused.status_code == 404 and "deploy" not in refused.text
    assert httpx.get(f"{live_server.url}/api/apps/{name}/metrics/events").status_code == 401
    other = DashboardClient(live_server)
    other.signup()
    dashboard_refused = other.page(f"/apps/{name}/metrics/events")
    assert dashboard_refused.status_code == 404 and "deploy" not in dashboard_refused.text
    assert DashboardClient(live_server).page(f"/apps/{name}/metrics/events").status_code in (302, 303)


def test_the_process_type_selector_narrows_the_graphs_to_a_type_and_its_dyno_limits(
    page: Page, live_server: LiveServer
) -> None:
    email, token = live_server.signup()
    api = client_for(live_server, token)
    name = f"graphs-{secrets.token_hex(3)}"
    api.post("/api/apps", json={"name": name}).raise_for_status()
    release_web(live_server, name, {"web": "serve", "worker": "work"})
    updates = [{"type": "web", "quantity": 1, "size": "basic"}, {"type": "worker", "size": "performance"}]
    api.patch(f"/api/apps/{name}/formation", json={"updates": updates}).raise_for_status()
    store = MetricsStore(redis.Redis.from_url(live_server.redis_url))
    minute = minute_of(time.time() - 60)
    dyno = Delta(name, minute)
    for process_type, rss, cpu in (("web", 100.0, 20.0), ("worker", 900.0, 150.5)):
        dyno.top(f"p|{process_type}|rss_max", rss)
        dyno.add[f"p|{process_type}|cpu_sum"] += cpu
        dyno.add[f"p|{process_type}|cpu_n"] += 1
    store.write([dyno])

    log_in(page, live_server, email)
    page.goto(f"{live_server.url}/apps/{name}")
    section = page.locator("#metrics")
    expect(section).to_have_attribute("data-refreshes", "1")
    options = page.locator("#graphs-type option")
    expect(options).to_have_text(["all types", "web", "worker"])

    def memory_and_load() -> tuple[list[float | None], list[float | None]]:
        graphs = drawn(page)
        return (
            column_by_minute(graphs["memory"]["data"])[minute],
            column_by_minute(graphs["load"]["data"])[minute],
        )

    # All types: the largest dyno's memory, the mean of the readings, the largest size's limits.
    assert memory_and_load() == ([900.0, 2048], [85.2, 200])
    for process_type, expected, refreshes in (
        ("web", ([100.0, 512], [20.0, 50]), "2"),
        ("worker", ([900.0, 2048], [150.5, 200]), "3"),
    ):
        page.locator("#graphs-type").select_option(process_type)
        expect(section).to_have_attribute("data-refreshes", refreshes)
        assert memory_and_load() == expected
    # The formation change is marked as scaling on every graph.
    for graph in drawn(page).values():
        assert [marker["label"] for marker in graph["markers"] if marker["kind"] == "scale"] == ["scaled"]
