"""The per-app log stream against a real Redis: Heroku's rendering, filters, and bounded retention."""

from __future__ import annotations

import time

import redis

from wharf.platform.logs.docker_follow import iso_from_docker, nanoseconds, since_argument, split_frames
from wharf.platform.logs.stream import (
    LogLine,
    LogWriter,
    recent_lines,
    router_log_sink,
    stream_key,
    trim_by_age,
)


def test_lines_render_as_heroku_prints_them() -> None:
    line = LogLine(
        app="a", ts="2026-11-27T18:00:00.123456+00:00", source="app", dyno="web.1", line="listening"
    )
    assert line.render() == "2026-11-27T18:00:00.123456+00:00 app[web.1]: listening"
    router = LogLine(app="a", ts="t", source="router", dyno="router", line="at=info")
    assert router.render() == "t heroku[router]: at=info"
    assert LogLine(app="a", ts="t", source="api", dyno="api", line="Scaled").render() == "t app[api]: Scaled"


def test_recent_lines_are_the_newest_in_order_and_filtered(redis_client: redis.Redis[bytes]) -> None:
    writer = LogWriter(redis_client)
    for n in range(30):
        writer.write("shop", source="app", dyno=f"web.{n % 2 + 1}", line=f"web {n}")
        writer.write("shop", source="router", dyno="router", line=f"at=info n={n}")
    newest = recent_lines(redis_client, "shop", num=3)
    assert [entry.line for entry in newest] == ["at=info n=28", "web 29", "at=info n=29"]
    web2 = recent_lines(redis_client, "shop", num=2, source="app", dyno="web.2")
    assert [entry.line for entry in web2] == ["web 27", "web 29"]
    every_web = recent_lines(redis_client, "shop", num=100, dyno="web")
    assert len(every_web) == 30
    assert recent_lines(redis_client, "other", num=5) == []


def test_retention_by_count_drops_the_oldest_lines(redis_client: redis.Redis[bytes]) -> None:
    writer = LogWriter(redis_client, max_lines=200)
    for n in range(0, 2000, 100):
        writer.write_many(
            LogLine(app="busy", ts="t", source="app", dyno="web.1", line=f"line {i}")
            for i in range(n, n + 100)
        )
    kept = recent_lines(redis_client, "busy", num=10_000)
    # Redis trims whole nodes (about 100 entries), so the bound is approximate but holds.
    assert 200 <= len(kept) <= 300
    assert kept[-1].line == "line 1999"
    assert "line 0" not in {entry.line for entry in kept}


def test_retention_by_age_drops_lines_older_than_the_limit(redis_client: redis.Redis[bytes]) -> None:
    old_ms = int((time.time() - 3 * 3600) * 1000)
    for n in range(5):
        fields = {"ts": "old", "source": "app", "dyno": "web.1", "line": f"old {n}"}
        redis_client.xadd(stream_key("aging"), fields, id=f"{old_ms + n}-0")
    LogWriter(redis_client, max_age_hours=2).write("aging", source="app", dyno="web.1", line="fresh")
    assert trim_by_age(redis_client, "aging", 2) == 0  # the write already trimmed them
    assert [entry.line for entry in recent_lines(redis_client, "aging")] == ["fresh"]


def test_router_sink_writes_heroku_router_lines_in_batches(redis_client: redis.Redis[bytes]) -> None:
    sink = router_log_sink(_url_of(redis_client))
    for n in range(50):
        sink("shop", f'at=info method=GET path="/{n}" status=200')
    sink.flush()
    lines = recent_lines(redis_client, "shop", num=100)
    assert len(lines) == 50
    assert lines[0].render().endswith('heroku[router]: at=info method=GET path="/0" status=200')
    assert {entry.source for entry in lines} == {"router"}


def _url_of(client: redis.Redis[bytes]) -> str:
    kwargs = client.connection_pool.connection_kwargs
    if "path" in kwargs:
        return f"unix://{kwargs['path']}?db={kwargs.get('db', 0)}"
    return f"redis://{kwargs['host']}:{kwargs['port']}/{kwargs.get('db', 0)}"


def test_docker_frames_become_lines_with_microsecond_times() -> None:
    frames = [
        b"2026-11-27T18:00:00.123456789Z first\n",
        b"2026-11-27T18:00:00.200000000Z long ",
        b"2026-11-27T18:00:00.200000001Z line\n",
        b"2026-11-27T18:00:01.000000000Z crlf\r\n",
    ]
    lines = list(split_frames(frames))
    assert [line.text for line in lines] == ["first", "long line", "crlf"]
    assert iso_from_docker(lines[0].docker_ts) == "2026-11-27T18:00:00.123456+00:00"
    assert nanoseconds(lines[2].docker_ts) - nanoseconds(lines[0].docker_ts) == 876_543_211
    assert since_argument(lines[0].docker_ts) < nanoseconds(lines[0].docker_ts) / 1e9
