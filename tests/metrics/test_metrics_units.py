"""Router line counting, percentiles, statsd parsing and the Redis store, without Docker."""

from __future__ import annotations

import random
import socket
import threading
import time
from datetime import timedelta
from typing import Any

import docker
import pytest
import redis

from wharf.platform.metrics.dynos import DynoCollector, DynoDirectory, cpu_percent
from wharf.platform.metrics.histogram import bucket_of, percentile
from wharf.platform.metrics.points import MinutePoint
from wharf.platform.metrics.prometheus import prometheus_text
from wharf.platform.metrics.router import RouterLine, RouterMetrics
from wharf.platform.metrics.statsd import StatsdAggregator, StatsdListener, parse_line, parse_packet
from wharf.platform.metrics.store import Delta, MetricsStore, minute_of, parse_since

LINE = (
    'at=info method=GET path="/a dyno=evil.9 status=500" host=app.localhost request_id=abc '
    'fwd="10.0.0.1" dyno=web.2 connect=0ms service={ms}ms status={status} bytes=512 protocol=http'
)
H12 = (
    'at=error code=H12 desc="Request timeout" method=GET path="/" host=app.localhost request_id=r '
    'fwd="10.0.0.1" dyno=web.1 connect=1ms service=30001ms status=503 bytes=0 protocol=http'
)
H13_WORKER = (
    'at=error code=H13 desc="Connection closed without response" method=GET path="/" host=h request_id=r '
    'fwd="10.0.0.1" dyno=worker.1 connect=0ms service=15ms status=503 bytes=64 protocol=http'
)
H14 = (
    'at=error code=H14 desc="No web processes running" method=GET path="/" host=h request_id=r '
    'fwd="10.0.0.1" dyno= connect= service= status=503 bytes=0 protocol=http'
)


def exact_percentile(values: list[float], quantile: float) -> float:
    ordered = sorted(values)
    return ordered[max(0, int(-(-quantile * len(ordered) // 1)) - 1)]


def test_histogram_percentiles_are_within_two_percent_of_the_exact_ones() -> None:
    rng = random.Random(7)
    values: list[float] = [round(rng.lognormvariate(4, 1.2)) for _ in range(20_000)]
    buckets: dict[int, int] = {}
    for value in values:
        buckets[bucket_of(value)] = buckets.get(bucket_of(value), 0) + 1
    for quantile in (0.5, 0.95, 0.99):
        exact = exact_percentile(values, quantile)
        measured = percentile(buckets, quantile, ceiling=max(values))
        assert measured is not None
        assert abs(measured - exact) <= max(1.0, exact * 0.02), (quantile, measured, exact)
    assert percentile({}, 0.95) is None


def test_router_line_fields_come_from_the_tail_not_the_path() -> None:
    parsed = RouterLine.parse(LINE.format(ms=42, status=200))
    assert parsed is not None
    assert (parsed.process_type, parsed.service_ms, parsed.status, parsed.bytes, parsed.code) == (
        "web",
        42,
        "200",
        512,
        "",
    )
    timeout = RouterLine.parse(H12)
    assert timeout is not None and timeout.code == "H12" and timeout.service_ms == 30001
    none_running = RouterLine.parse(H14)
    assert none_running is not None and none_running.code == "H14" and none_running.service_ms is None
    assert RouterLine.parse("junk") is None


def test_router_metrics_round_trip_through_redis(redis_client: redis.Redis[bytes]) -> None:
    store = MetricsStore(redis_client)
    metrics = RouterMetrics(store)
    now = time.time()
    timings = list(range(1, 201))
    for ms in timings:
        metrics.observe("shop", LINE.format(ms=ms, status=200 if ms <= 190 else 500), now=now)
    metrics.observe("shop", H12, now=now)
    metrics.observe("other", LINE.format(ms=5, status=200), now=now)
    metrics.flush()
    metrics.observe("shop", LINE.format(ms=7, status=404), now=now)
    metrics.flush()
    points = store.minute_points("shop", process_type="web", since=timedelta(minutes=5))
    assert len(points) == 5
    assert all(p.requests == 0 for p in points[:-1]) and points[-1].time.timestamp() == minute_of(now)
    last = points[-1].as_json()
    assert last["requests"] == 202
    assert last["status"] == {"2xx": 190, "3xx": 0, "4xx": 1, "5xx": 11}
    assert last["max_ms"] == 30001
    assert abs(last["p50_ms"] - exact_percentile([*timings, 7, 30001], 0.5)) <= 2
    assert abs(last["p95_ms"] - exact_percentile([*timings, 7, 30001], 0.95)) <= 4
    assert store.minute_points("shop", process_type="worker", since=timedelta(minutes=1))[0].requests == 0
    assert store.minute_points("other", since=timedelta(minutes=1))[0].requests == 1
    assert redis_client.ttl(f"wharf:metrics:shop:1m:{minute_of(now)}") > 23 * 3600
    assert redis_client.ttl(f"wharf:metrics:shop:10m:{minute_of(now) - minute_of(now) % 600}") > 6 * 86400
    # Past a day, points are ten minutes wide, from the same writes.
    week = store.minute_points("shop", since=timedelta(days=2))
    assert len(week) == 288 and week[-1].requests == 202
    text = prometheus_text(store)
    assert "# TYPE wharf_router_requests_per_minute gauge" in text


def test_statsd_lines_parse_and_bad_ones_are_dropped() -> None:
    assert parse_line("hits:3|c|@0.5") is not None
    sample = parse_line("hits:3|c|@0.5")
    assert sample is not None and (sample.kind, sample.value, sample.rate) == ("c", 3.0, 0.5)
    gauge = parse_line("queue:-2|g")
    assert gauge is not None and gauge.relative
    timer = parse_line("db.query:12.5|ms|#tag:x")
    assert timer is not None and timer.kind == "t"
    assert parse_line("users:alice|s") is not None
    for bad in ("nocolon", "a b:1|c", "x:1|q", "x:nan|c", "x:1|c|@2", "x:abc|g", ":1|c", "x:|s"):
        assert parse_line(bad) is None, bad
    assert len(parse_packet(b"a:1|c\nb:2|g\n\njunk")) == 2
    assert parse_packet(b"a:1|c\n" * 2000) == []


def test_statsd_series_are_aggregated_per_minute_and_bounded(redis_client: redis.Redis[bytes]) -> None:
    store = MetricsStore(redis_client)
    aggregator = StatsdAggregator(store, max_series=3)
    now = time.time()
    aggregator.add("shop", parse_packet(b"hits:1|c\nhits:2|c|@0.5\nq:10|g\nq:+5|g"), now=now)
    aggregator.add("shop", [s for n in range(100) if (s := parse_line(f"t:{n + 1}|ms")) is not None], now=now)
    aggregator.add("shop", parse_packet(b"extra:1|c\nhits:1|c"), now=now)
    aggregator.buffer.flush()
    custom = store.minute_points("shop", since=timedelta(minutes=1))[-1].custom
    assert custom.pop("t") == pytest.approx(95.0, rel=0.02)
    assert custom == {"hits": 6.0, "q": 15.0}
    assert aggregator.dropped == 1


def test_statsd_listener_takes_the_app_from_the_source_address(redis_client: redis.Redis[bytes]) -> None:
    store = MetricsStore(redis_client)
    apps = {"127.0.0.1": "sender"}
    listener = StatsdListener(StatsdAggregator(store, interval=0.2), apps.get, host="127.0.0.1", port=0)
    stop = threading.Event()
    thread = threading.Thread(target=listener.serve, args=(stop,))
    thread.start()
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
            sock.sendto(b"victim.signups:7|c\nsignups:1|c", ("127.0.0.1", listener.port))
        deadline = time.monotonic() + 10
        while not store.minute_points("sender", since=timedelta(minutes=1))[-1].custom:
            assert time.monotonic() < deadline
            time.sleep(0.1)
    finally:
        stop.set()
        thread.join()
    assert store.minute_points("sender", since=timedelta(minutes=1))[-1].custom == {
        "victim.signups": 7.0,
        "signups": 1.0,
    }
    assert store.minute_points("victim", since=timedelta(minutes=1))[-1].custom == {}


class FakeDockerApi:
    def __init__(self) -> None:
        self.listed: list[dict[str, Any]] = []
        self.networks: dict[str, dict[str, Any]] = {}
        self.usage = 0

    def containers(self, *, all: bool, filters: dict[str, Any]) -> list[dict[str, Any]]:
        return [c for c in self.listed if all or c["State"] == "running"]

    def inspect_network(self, name: str) -> dict[str, Any]:
        if name not in self.networks:
            raise docker.errors.NotFound(f"network {name} not found")
        return self.networks[name]

    def stats(self, container_id: str, *, stream: bool, one_shot: bool) -> dict[str, Any]:
        assert stream is False
        self.usage += 500_000_000
        return {
            "cpu_stats": {
                "cpu_usage": {"total_usage": self.usage},
                "system_cpu_usage": self.usage * 4,
                "online_cpus": 2,
            },
            "memory_stats": {
                "usage": 300 * 2**20,
                "limit": 512 * 2**20,
                "stats": {"anon": 200 * 2**20, "swap": 24 * 2**20},
            },
        }


def dyno(container_id: str, state: str, status: str = "Up") -> dict[str, Any]:
    return {
        "Id": container_id,
        "State": state,
        "Status": status,
        "Labels": {"wharf.app": "shop", "wharf.process-type": "web", "wharf.managed": "1"},
        "NetworkSettings": {"Networks": {"wharf-shop": {"IPAddress": "172.30.0.5"}}},
    }


def test_dyno_collector_reads_cpu_memory_swap_and_counts_exits(redis_client: redis.Redis[bytes]) -> None:
    api = FakeDockerApi()
    api.listed = [dyno("a", "running"), dyno("old", "exited", "Exited (1) 2 hours ago")]
    directory = DynoDirectory(api)
    collector = DynoCollector(directory, MetricsStore(redis_client))
    now = time.time()
    collector.collect(now)
    api.listed = [dyno("a", "running"), dyno("b", "exited", "Exited (137) 1 second ago")]
    collector.collect(now)
    collector.buffer.flush()
    store = MetricsStore(redis_client)
    point = store.minute_points("shop", process_type="web", since=timedelta(minutes=1))[-1]
    assert point.memory_rss_mb == 200.0
    assert point.cpu_percent == 50.0
    assert (point.swap_mb, point.memory_limit_mb, point.restarts) == (24.0, 512.0, 1)
    shown = point.as_json()
    assert (shown["swap_mb"], shown["memory_limit_mb"], shown["restarts"]) == (24.0, 512.0, 1)
    fields = MetricsStore(redis_client).raw_minute("shop", minute_of(now))
    assert fields["p|web|restarts"] == 1 and fields["p|web|exit|137"] == 1
    assert fields["p|web|limit_mb"] == 512
    assert directory.app_of("172.30.0.5") == "shop"
    assert directory.app_of("172.30.0.6") is None
    assert cpu_percent(None, {}) is None


def test_sums_add_up_whether_their_parts_are_whole_or_fractions(redis_client: redis.Redis[bytes]) -> None:
    store = MetricsStore(redis_client)
    app, now = f"sums-{random.randrange(10**6)}", time.time()
    for cpu in (12.5, 41.0, 3):
        delta = Delta(app, minute_of(now))
        delta.add["p|web|cpu_sum"] += cpu
        delta.add["p|web|cpu_n"] += 1
        delta.add["p|web|req"] += 2
        store.write([delta])
    fields = store.raw_minute(app, minute_of(now))
    assert (fields["p|web|cpu_sum"], fields["p|web|cpu_n"], fields["p|web|req"]) == (56.5, 3, 6)
    assert store.minute_points(app, since=timedelta(minutes=1))[-1].cpu_percent == 18.8
    store.forget_app(app)


def test_dyno_exits_are_read_by_minute_and_process_type(redis_client: redis.Redis[bytes]) -> None:
    store = MetricsStore(redis_client)
    app, now = f"exits-{random.randrange(10**6)}", time.time()
    delta = Delta(app, minute_of(now - 60))
    delta.add.update({"p|web|exit|137": 2, "p|worker|exit|1": 1, "p|web|restarts": 2})
    store.write([delta, Delta(app, minute_of(now))])
    (minute,) = store.dyno_exits(app, since=timedelta(minutes=5))
    assert minute.time.timestamp() == minute_of(now - 60)
    assert minute.codes == {("web", "137"): 2, ("worker", "1"): 1}
    (web,) = store.dyno_exits(app, process_type="web", since=timedelta(minutes=5))
    assert web.codes == {("web", "137"): 2}
    assert store.dyno_exits(app, process_type="clock", since=timedelta(minutes=5)) == []
    store.forget_app(app)


def test_since_is_validated() -> None:
    assert parse_since("90s") == timedelta(seconds=90)
    assert parse_since("7d") == timedelta(days=7)
    for bad in ("8d", "0m", "1 h", "h", "-1m", "1w"):
        try:
            parse_since(bad)
        except ValueError:
            continue
        raise AssertionError(bad)


def test_a_swarm_nodes_directory_knows_its_dynos_by_their_gateway_bridge_address() -> None:
    api = FakeDockerApi()
    api.listed = [dyno("a", "running"), dyno("gone", "exited", "Exited (0) 1 second ago")]
    gateway_bridge = "docker_gwbridge"
    api.networks[gateway_bridge] = {
        "Containers": {
            "a": {"Name": "gateway_1", "IPv4Address": "10.232.0.2/24"},
            "gone": {"Name": "gateway_2", "IPv4Address": "10.232.0.3/24"},
            "not-a-dyno": {"Name": "gateway_3", "IPv4Address": "10.232.0.4/24"},
            "ingress-sbox": {"Name": "gateway_ingress-sbox", "IPv4Address": "10.232.0.5/24"},
        }
    }
    on_node = DynoDirectory(api, gateway_bridge=gateway_bridge)
    assert on_node.app_of("10.232.0.2") == "shop"
    assert on_node.app_of("172.30.0.5") == "shop"
    assert [on_node.app_of(f"10.232.0.{n}") for n in (3, 4, 5)] == [None, None, None]
    assert DynoDirectory(api).app_of("10.232.0.2") is None, "one host: app networks only"
    del api.networks[gateway_bridge]
    assert DynoDirectory(api, gateway_bridge=gateway_bridge).app_of("172.30.0.5") == "shop"


def point_at(store: MetricsStore, app: str, start: int, **read: Any) -> MinutePoint:
    """The point that begins at `start` among those `store.minute_points(app, **read)` answers."""
    return next(p for p in store.minute_points(app, **read) if p.time.timestamp() == start)


def test_h_codes_bytes_and_concurrency_reach_the_points_at_both_resolutions(
    redis_client: redis.Redis[bytes],
) -> None:
    store = MetricsStore(redis_client)
    metrics = RouterMetrics(store)
    app, now = f"codes-{random.randrange(10**6)}", time.time()
    for ms in (100, 200, 300):
        metrics.observe(app, LINE.format(ms=ms, status=200), now=now)
    metrics.observe_many([(app, H12), (app, H12), (app, H14), (app, H13_WORKER)], now=now)
    metrics.flush()
    minute, ten_minutes = minute_of(now), minute_of(now) - minute_of(now) % 600
    busy_ms = 100 + 200 + 300 + 2 * 30001

    web = point_at(store, app, minute, process_type="web", since=timedelta(minutes=5))
    assert web.errors == {"H12": 2, "H14": 1}
    assert web.status["5xx"] == 3, "H-codes still count under the status the router answered"
    assert web.bytes == 3 * 512
    assert web.concurrency == round(busy_ms / 60_000, 2)
    every_type = point_at(store, app, minute, since=timedelta(minutes=5)).as_json()
    assert every_type["errors"] == {"H12": 2, "H14": 1, "H13": 1}
    assert every_type["bytes"] == 3 * 512 + 64
    assert every_type["concurrency"] == round((busy_ms + 15) / 60_000, 2)

    # Past a day the points are ten minutes wide: the same counts, in-flight averaged over ten minutes.
    wide = point_at(store, app, ten_minutes, since=timedelta(days=2)).as_json()
    assert wide["errors"] == {"H12": 2, "H14": 1, "H13": 1} and wide["bytes"] == 3 * 512 + 64
    assert wide["concurrency"] == round((busy_ms + 15) / 600_000, 2)

    quiet = point_at(store, app, minute - 60, since=timedelta(minutes=5))
    assert (quiet.errors, quiet.bytes, quiet.concurrency) == ({}, 0, None)
    store.forget_app(app)


def test_prometheus_shows_h_code_errors_swap_and_restarts_of_the_last_minute(
    redis_client: redis.Redis[bytes],
) -> None:
    store = MetricsStore(redis_client)
    app, last_minute = f"prom-{random.randrange(10**6)}", minute_of(time.time()) - 60
    delta = Delta(app, last_minute)
    delta.add.update({"p|web|req": 5, "p|web|5xx": 3, "p|web|h|H12": 3, "p|web|restarts": 2})
    delta.maxima.update({"p|web|swap_max": 24.0, "p|web|rss_max": 200.0})
    delta.last["p|web|limit_mb"] = 512.0
    store.write([delta])
    text = prometheus_text(store)
    labels = f'app="{app}",type="web"'
    assert f'wharf_router_errors_per_minute{{{labels},code="H12"}} 3' in text.splitlines()
    assert f"wharf_dyno_swap_mb{{{labels}}} 24.0" in text.splitlines()
    assert f"wharf_dyno_memory_limit_mb{{{labels}}} 512.0" in text.splitlines()
    assert f"wharf_dyno_restarts_per_minute{{{labels}}} 2" in text.splitlines()
    assert "# TYPE wharf_dyno_swap_mb gauge" in text
    store.forget_app(app)
