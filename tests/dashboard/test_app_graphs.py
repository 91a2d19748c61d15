"""The app page's graphs in a real browser: requests, p95 and memory drawn from the app's metrics."""

from __future__ import annotations

import secrets
import time
from datetime import datetime
from pathlib import Path

import pytest
import redis
from playwright.sync_api import Page, expect

from tests.conftest import LiveServer
from tests.utils.api import client_for
from tests.utils.dashboard import PASSWORD, DashboardClient
from wharf.platform.metrics.router import RouterMetrics
from wharf.platform.metrics.store import Delta, MetricsStore, minute_of

pytestmark = pytest.mark.e2e

LINE = (
    'at=info method=GET path="/" host=h request_id=r fwd="10.0.0.1" dyno=web.1 connect=0ms '
    "service={ms}ms status={status} bytes=100 protocol=http"
)
# Per minute, oldest first: (requests, slowest ms, 5xx among them, memory RSS MB).
MINUTES = ((40, 120, 0, 96.5), (90, 480, 5, 128.0), (25, 60, 1, 110.25))
SERIES = """
() => Object.fromEntries(Object.entries(window.wharfGraphs).map(([key, plot]) => [
  key, {data: plot.data, canvas: !!plot.root.querySelector("canvas")},
]))
"""


def record_minutes(redis_url: str, app: str) -> None:
    store = MetricsStore(redis.Redis.from_url(redis_url))
    router = RouterMetrics(store)
    now = time.time()
    for back, (requests, slowest, errors, rss) in zip((2, 1, 0), MINUTES, strict=True):
        at = now - back * 60
        for n in range(requests):
            status = 500 if n < errors else 200
            router.observe(app, LINE.format(ms=1 + n * slowest // requests, status=status), now=at)
        dyno = Delta(app, minute_of(at))
        dyno.top("p|web|rss_max", rss)
        store.write([dyno])
    router.flush()


def column_by_minute(data: list[list[float | None]]) -> dict[int, list[float | None]]:
    """uPlot's columns (times, then one list per series) as each minute's values."""
    return {int(x): [series[i] for series in data[1:]] for i, x in enumerate(data[0]) if x is not None}


def log_in(page: Page, server: LiveServer, email: str) -> None:
    page.goto(f"{server.url}/login")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(page).to_have_url(f"{server.url}/apps")


def test_the_app_page_graphs_requests_p95_and_memory_from_the_metrics_api(
    page: Page, live_server: LiveServer, artifacts: Path
) -> None:
    email, token = live_server.signup()
    api = client_for(live_server, token)
    name = f"graphs-{secrets.token_hex(3)}"
    api.post("/api/apps", json={"name": name}).raise_for_status()
    record_minutes(live_server.redis_url, name)
    points = api.get(f"/api/apps/{name}/metrics", params={"since": "1h"}).json()
    assert [p["requests"] for p in points[-3:]] == [m[0] for m in MINUTES]

    log_in(page, live_server, email)
    page.goto(f"{live_server.url}/apps/{name}")
    page.wait_for_function("() => window.wharfGraphs && Object.keys(window.wharfGraphs).length === 3")
    expect(page.locator("#graphs-status")).to_contain_text("updated")
    graphs = page.evaluate(SERIES)
    assert set(graphs) == {"requests", "p95", "memory"}
    assert all(graph["canvas"] for graph in graphs.values())
    # Compared by minute, so a minute that turns between the two reads changes nothing.
    by_minute = {int(datetime.fromisoformat(p["time"]).timestamp()): p for p in points}
    recorded = sorted(by_minute)[-3:]
    drawn = {key: column_by_minute(graph["data"]) for key, graph in graphs.items()}
    for key in drawn:
        assert set(recorded) <= set(drawn[key]) and len(drawn[key]) == 60
    for minute in set(by_minute) & set(drawn["requests"]):
        point = by_minute[minute]
        assert drawn["requests"][minute] == [point["requests"], point["status"]["5xx"]]
        assert drawn["p95"][minute] == [point["p95_ms"]]
        assert drawn["memory"][minute] == [point["memory_rss_mb"]]
    for minute, (requests, slowest, errors, rss) in zip(recorded, MINUTES, strict=True):
        assert drawn["requests"][minute] == [requests, errors]
        p95 = drawn["p95"][minute][0]
        assert p95 is not None and 0 < p95 <= slowest
        assert drawn["memory"][minute] == [round(rss, 1)]
    page.locator("#metrics").screenshot(path=str(artifacts / "app-graphs.png"))

    # Another user sees neither the page nor its points.
    other = DashboardClient(live_server)
    other.signup()
    assert other.page(f"/apps/{name}").status_code == 404
    refused = other.page(f"/apps/{name}/metrics")
    assert refused.status_code == 404 and "requests" not in refused.text
    assert DashboardClient(live_server).page(f"/apps/{name}/metrics").status_code in (302, 303)
