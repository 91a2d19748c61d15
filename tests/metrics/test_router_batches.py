"""Router metrics counted a tailer read at a time: the same series as line by line, no counts lost."""

from __future__ import annotations

import random
import sys
import threading
from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest

from wharf.platform.metrics.histogram import bucket_of
from wharf.platform.metrics.router import RouterLine, RouterMetrics
from wharf.platform.metrics.store import Delta
from wharf.router.logs import AccessLogTailer, split_router_record

NOW = 1_790_000_000.0
# As nginx writes them (`<app>\t<line>`), before the tailer drops the empty `code= desc=""`.
RECORDS = (
    'shop\tat=info code= desc="" method=GET path="/" host=shop.localhost request_id=a '
    'fwd="10.0.0.1" dyno=web.1 connect=0ms service={ms}ms status=200 bytes={size} protocol=http',
    'shop\tat=info code= desc="" method=POST path="/cart dyno=evil.9 service=1ms status=200 bytes=1" '
    'host=shop.localhost request_id=b fwd="10.0.0.1" dyno=web.2 connect=1ms service={ms}ms status=302 '
    "bytes={size} protocol=http",
    'shop\tat=info code= desc="" method=GET path="/api" host=shop.localhost request_id=c '
    'fwd="10.0.0.2" dyno=api.1 connect=0ms service={ms}ms status=404 bytes={size} protocol=http',
    'shop\tat=error code=H12 desc="Request timeout" method=GET path="/slow" host=shop.localhost '
    'request_id=d fwd="10.0.0.1" dyno=web.1 connect=1ms service=30001ms status=503 bytes=0 protocol=http',
    'shop\tat=error code=H14 desc="No web processes running" method=GET path="/" host=shop.localhost '
    'request_id=e fwd="10.0.0.1" dyno= connect= service= status=503 bytes=0 protocol=http',
    'blog\tat=info code= desc="" method=GET path="/post" host=blog.localhost request_id=f '
    'fwd="10.0.0.3" dyno=web.1 connect=0ms service={ms}ms status=500 bytes={size} protocol=http',
    'blog\tat=error code=H13 desc="Connection closed without response" method=GET path="/" '
    'host=blog.localhost request_id=g fwd="10.0.0.3" dyno=web.3 connect=0ms service={ms}ms status=503 '
    "bytes=0 protocol=http",
    'blog\tat=info code= desc="" method=GET path="/big" host=blog.localhost request_id=h '
    'fwd="10.0.0.3" dyno=worker.1 connect=0ms service={ms}ms status=201 bytes={size} protocol=http',
)
JUNK = ("shop\tat=info nothing to read here", "blog\tat=info dyno=web.1 service=xms status=200 bytes=a")


def recorded_sample(count: int = 3000, seed: int = 19) -> list[tuple[str, str]]:
    """A mixed recording: apps, process types, statuses, H-codes, service times up to 20 s, junk."""
    rng = random.Random(seed)
    lines: list[tuple[str, str]] = []
    for _ in range(count):
        template = rng.choice(RECORDS + JUNK) if rng.random() < 0.98 else rng.choice(JUNK)
        ms = rng.choice((rng.randint(0, 40), rng.randint(0, 900), rng.randint(9_990, 20_000)))
        raw = template.format(ms=ms, size=rng.choice((0, 212, 512, rng.randint(1, 10**6))))
        record = split_router_record(raw.encode())
        assert record is not None
        lines.append(record)
    return lines


def series(deltas: Sequence[Delta]) -> dict[tuple[str, int], tuple[dict[str, float], dict[str, float]]]:
    """Deltas by app and minute, with zero counters left out, for comparing two ways of counting."""
    merged: dict[tuple[str, int], tuple[dict[str, float], dict[str, float]]] = {}
    for delta in deltas:
        add, maxima = merged.setdefault((delta.app, delta.minute), ({}, {}))
        for name, value in delta.add.items():
            add[name] = add.get(name, 0) + value
        for name, value in delta.maxima.items():
            maxima[name] = max(maxima.get(name, value), value)
    return {key: ({k: v for k, v in add.items() if v}, maxima) for key, (add, maxima) in merged.items()}


def chunks(lines: list[tuple[str, str]], rng: random.Random) -> Iterator[list[tuple[str, str]]]:
    at = 0
    while at < len(lines):
        size = rng.randint(1, 400)
        yield lines[at : at + size]
        at += size


def test_batches_give_the_same_series_as_lines_one_by_one() -> None:
    sample = recorded_sample()
    one_by_one = RouterMetrics(store=None)  # type: ignore[arg-type]
    for app, line in sample:
        one_by_one.observe(app, line, now=NOW)
    whole = RouterMetrics(store=None)  # type: ignore[arg-type]
    whole.observe_many(sample, now=NOW)
    reads = RouterMetrics(store=None)  # type: ignore[arg-type]
    for batch in chunks(sample, random.Random(3)):
        reads.observe_many(batch, now=NOW)
    expected = series(one_by_one.deltas())
    assert series(whole.deltas()) == expected
    assert series(reads.deltas()) == expected

    # And the series are what the lines say, read by the separate field-by-field parser.
    parsed = [(app, RouterLine.parse(line)) for app, line in sample]
    shop_web = expected[("shop", int(NOW) - int(NOW) % 60)][0]
    shop_lines = [p for app, p in parsed if app == "shop" and p is not None and p.process_type == "web"]
    assert shop_web["p|web|req"] == len(shop_lines) > 500
    assert shop_web["p|web|3xx"] == sum(p.status == "302" for p in shop_lines) > 0
    assert shop_web["p|web|h|H12"] == sum(p.code == "H12" for p in shop_lines) > 0
    assert shop_web["p|web|h|H14"] == sum(p.code == "H14" for p in shop_lines) > 0
    assert shop_web["p|web|bytes"] == sum(p.bytes for p in shop_lines)
    assert shop_web["p|web|busy_ms"] == sum(p.service_ms or 0 for p in shop_lines)
    slowest = max(p.service_ms or 0 for p in shop_lines)
    assert shop_web[f"p|web|t|{bucket_of(slowest)}"] >= 1
    blog = expected[("blog", int(NOW) - int(NOW) % 60)][0]
    assert blog["p|worker|req"] == sum(
        app == "blog" and p is not None and p.process_type == "worker" for app, p in parsed
    )
    assert blog["p|web|5xx"] > 0 and blog["p|web|h|H13"] > 0
    assert "p|evil|req" not in shop_web and "p|api|4xx" in shop_web


def test_concurrent_batches_and_flushes_lose_no_counts() -> None:
    metrics = RouterMetrics(store=None)  # type: ignore[arg-type]
    line = split_router_record(RECORDS[0].format(ms=5, size=100).encode())
    assert line is not None
    # Many apps per batch: a long merge into the open minutes, for flushes to cut into.
    batch = [(f"app{n}", line[1]) for n in range(60)]
    writers, batches = 4, 300
    taken: list[Delta] = []
    done = threading.Event()

    def write() -> None:
        for _ in range(batches):
            metrics.observe_many(batch, now=NOW)

    def flush() -> None:
        while not done.is_set():
            taken.extend(metrics.deltas())

    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)  # switch threads as often as possible, so races show
    try:
        threads = [threading.Thread(target=write) for _ in range(writers)]
        flusher = threading.Thread(target=flush)
        flusher.start()
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        done.set()
        flusher.join()
    finally:
        sys.setswitchinterval(interval)
    taken.extend(metrics.deltas())
    total = writers * batches * len(batch)
    assert sum(delta.add["p|web|req"] for delta in taken) == total
    assert sum(delta.add["p|web|bytes"] for delta in taken) == total * 100


class Recorder:
    def __init__(self) -> None:
        self.calls: list[list[tuple[str, str]]] = []

    def __call__(self, app: str, line: str) -> None:
        self.calls.append([(app, line)])


class BatchRecorder(Recorder):
    def deliver_many(self, records: Sequence[tuple[str, str]]) -> None:
        self.calls.append(list(records))


@pytest.mark.parametrize(("sink_type", "calls"), [(BatchRecorder, 2), (Recorder, 6)])
def test_the_tailer_hands_each_read_to_a_batch_sink_at_once(
    tmp_path: Path, sink_type: type[Recorder], calls: int
) -> None:
    log = tmp_path / "access.log"
    log.write_text("")
    sink = sink_type()
    tailer = AccessLogTailer(log, sink)
    tailer.poll()
    with log.open("a") as out:
        out.writelines(RECORDS[0].format(ms=n, size=1) + "\n" for n in range(3))
    assert tailer.poll() == 3
    with log.open("a") as out:
        out.write(JUNK[0] + "\n" + RECORDS[5].format(ms=1, size=1) + "\n" + RECORDS[3] + "\n")
    assert tailer.poll() == 3
    assert len(sink.calls) == calls
    delivered = [record for call in sink.calls for record in call]
    assert [app for app, _ in delivered] == ["shop", "shop", "shop", "shop", "blog", "shop"]
    assert all(' code= desc=""' not in line for _, line in delivered)
