"""Log drains against real receivers: RFC 5424 over TCP, logplex batches over HTTP, drops while down."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator

import pytest
import redis

from tests.conftest import free_port
from tests.utils.log_receivers import RFC5424, LogplexReceiver, SyslogReceiver
from wharf.platform.errors import BadRequest
from wharf.platform.logs.drain_transport import DrainUnavailable, check_address
from wharf.platform.logs.drain_worker import DrainWorker
from wharf.platform.logs.drains import DrainSpec, parse_drain_url
from wharf.platform.logs.stream import LogLine, LogWriter, recent_lines
from wharf.platform.logs.syslog import octet_frame, parse_octet_frames, rfc5424

L10 = re.compile(
    r"^\S+ heroku\[logplex\]: Error L10 \(output buffer overflow\): (\d+) messages dropped since "
)


@pytest.fixture
def writer(redis_client: redis.Redis[bytes]) -> LogWriter:
    return LogWriter(redis_client)


def start_worker(drain_url: str, writer: LogWriter, **options: object) -> DrainWorker:
    worker = DrainWorker(
        DrainSpec(id=1, app="shop", url=drain_url, token="d.test"),
        writer,
        allow_private=True,
        **options,  # type: ignore[arg-type]
    )
    worker.start()
    time.sleep(0.2)  # the worker starts from the end of the stream
    return worker


@pytest.fixture
def syslog_receiver() -> Iterator[SyslogReceiver]:
    receiver = SyslogReceiver()
    yield receiver
    receiver.close()


def test_a_line_becomes_an_rfc5424_message() -> None:
    entry = LogLine(app="shop", ts="2026-11-27T18:00:00.123456+00:00", source="app", dyno="web.1", line="hi")
    message = rfc5424(entry).decode()
    assert message == "<190>1 2026-11-27T18:00:00.123456+00:00 shop app web.1 - - hi"
    match = RFC5424.match(message)
    assert match is not None and match["procid"] == "web.1" and match["msg"] == "hi"
    framed = octet_frame(b"one") + octet_frame("två\nrader".encode())
    assert parse_octet_frames(framed + b"12 partial") == ([b"one", "två\nrader".encode()], b"12 partial")


def test_drain_urls_are_checked() -> None:
    assert parse_drain_url("syslog+tls://logs.example.com:6514").port == 6514
    assert parse_drain_url("https://user:pw@logs.example.com/x").safe_url == "https://logs.example.com:443"
    for bad in ("ftp://example.com", "syslog://example.com", "logs.example.com:514", "https://"):
        with pytest.raises(BadRequest):
            parse_drain_url(bad)


def test_internal_addresses_are_refused_unless_the_operator_allows_them() -> None:
    with pytest.raises(DrainUnavailable, match="internal address"):
        check_address("127.0.0.1", 6379, allow_private=False)
    with pytest.raises(DrainUnavailable, match="internal address"):
        check_address("169.254.169.254", 80, allow_private=False)
    assert check_address("127.0.0.1", 6379, allow_private=True) == [("127.0.0.1", 6379)]


def test_syslog_drain_receives_every_line_in_rfc5424(
    writer: LogWriter, syslog_receiver: SyslogReceiver
) -> None:
    worker = start_worker(syslog_receiver.url, writer)
    try:
        for n in range(300):
            writer.write("shop", source="app", dyno="web.1", line=f"line {n}")
        writer.write("other-app", source="app", dyno="web.1", line="not for this drain")
        messages = syslog_receiver.received.wait_for(300)
    finally:
        worker.join(timeout=10)
    assert len(messages) == 300
    parsed = [RFC5424.match(message) for message in messages]
    assert all(match is not None for match in parsed)
    assert [match["msg"] for match in parsed if match] == [f"line {n}" for n in range(300)]
    assert {(m["host"], m["app"], m["procid"]) for m in parsed if m} == {("shop", "app", "web.1")}


def test_https_drain_gets_logplex_batches(writer: LogWriter) -> None:
    receiver = LogplexReceiver()
    worker = start_worker(receiver.url, writer)
    try:
        for n in range(20):
            writer.write("shop", source="router", dyno="router", line=f"at=info n={n}")
        messages = receiver.received.wait_for(20)
    finally:
        worker.join(timeout=10)
        receiver.close()
    assert [m.split(" - - ", 1)[1] for m in messages] == [f"at=info n={n}" for n in range(20)]
    headers = receiver.received.headers[0]
    assert headers["Content-Type"] == "application/logplex-1"
    assert headers["Logplex-Drain-Token"] == "d.test"
    assert sum(int(h["Logplex-Msg-Count"]) for h in receiver.received.headers) == 20


def test_a_down_drain_counts_its_drops_and_recovers(writer: LogWriter) -> None:
    port = free_port()
    worker = start_worker(f"syslog://127.0.0.1:{port}", writer, capacity=50, report_interval=0.3)
    try:
        for n in range(200):
            writer.write("shop", source="app", dyno="web.1", line=f"while down {n}")
        deadline = time.monotonic() + 10
        dropped = 0
        while time.monotonic() < deadline and dropped < 150:
            lines = recent_lines(writer.client, "shop", num=500, source="heroku", dyno="logplex")
            dropped = sum(int(m[1]) for entry in lines if (m := L10.match(entry.render())))
            time.sleep(0.05)
        assert dropped == 150, "the L10 errors do not add up to the 150 lines beyond the buffer"
        receiver = SyslogReceiver(port)
        try:
            messages = receiver.received.wait_for(50, timeout=40)
            assert [m.split(" - - ", 1)[1] for m in messages[:50]] == [f"while down {n}" for n in range(50)]
        finally:
            receiver.close()
    finally:
        worker.join(timeout=10)


def test_a_down_drain_does_not_hold_back_another(writer: LogWriter, syslog_receiver: SyslogReceiver) -> None:
    down = start_worker(f"syslog://127.0.0.1:{free_port()}", writer, capacity=10)
    up = DrainWorker(
        DrainSpec(id=2, app="shop", url=syslog_receiver.url, token="d.2"), writer, allow_private=True
    )
    up.start()
    time.sleep(0.2)
    try:
        started = time.monotonic()
        for n in range(500):
            writer.write("shop", source="app", dyno="web.1", line=f"n {n}")
        assert len(syslog_receiver.received.wait_for(500)) == 500
        assert time.monotonic() - started < 10
    finally:
        down.join(timeout=10)
        up.join(timeout=10)
